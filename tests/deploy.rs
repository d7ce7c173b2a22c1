//! The deployment recipes in `deploy/` parse, probe the right paths, wait for Redis the right way,
//! and only use settings the README documents.

use serde_json::Value;

fn read(path: &str) -> String {
    let path = format!("{}/deploy/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn yaml_documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc).unwrap_or_else(|err| panic!("{path}: {err}"))
        })
        .collect()
}

/// Every `REDIS_*` variable a recipe sets must be one the README's configuration table lists.
fn assert_documented(variables: impl IntoIterator<Item = String>) {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README.md");
    for name in variables {
        if name.starts_with("REDIS_") {
            assert!(
                readme.contains(&format!("| `{name}`")),
                "{name} is used in deploy/ but not documented in the README"
            );
        }
    }
}

fn env_names(env: &Value) -> Vec<String> {
    match env {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| item["name"].as_str().map(str::to_owned))
            .collect(),
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

#[test]
fn kubernetes_probes_keep_redis_out_of_liveness_and_wait_for_it_first() {
    let docs = yaml_documents("kubernetes/deployment.yaml");
    let deployment = docs
        .iter()
        .find(|doc| doc["kind"] == "Deployment")
        .expect("a Deployment");
    let spec = &deployment["spec"]["template"]["spec"];
    let app = &spec["containers"][0];

    assert_eq!(app["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(app["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(app["startupProbe"]["httpGet"]["path"], "/startup");
    let grace = spec["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("a grace period");
    let drain_ms: u64 = app["env"]
        .as_array()
        .and_then(|env| env.iter().find(|e| e["name"] == "SHUTDOWN_DRAIN_MS"))
        .and_then(|e| e["value"].as_str()?.parse().ok())
        .expect("SHUTDOWN_DRAIN_MS");
    assert!(
        grace * 1000 > drain_ms,
        "the grace period must outlast the drain"
    );
    assert_eq!(app["ports"][0]["containerPort"], 3000);

    let init = &spec["initContainers"][0];
    let command: Vec<&str> = init["command"]
        .as_array()
        .expect("an init command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(&command[..2], ["redis-gate", "wait"]);

    assert_documented(env_names(&app["env"]));
    assert_documented(env_names(&init["env"]));
    assert!(docs.iter().any(|doc| doc["kind"] == "Service"));
}

#[test]
fn ecs_task_starts_the_app_after_a_healthy_redis_and_checks_readiness() {
    let task: Value = serde_json::from_str(&read("ecs/task-definition.json")).expect("valid JSON");
    let containers = task["containerDefinitions"].as_array().expect("containers");
    let redis = containers
        .iter()
        .find(|c| c["name"] == "redis")
        .expect("redis");
    let app = containers.iter().find(|c| c["name"] == "app").expect("app");

    let redis_check = redis["healthCheck"]["command"].to_string();
    assert!(
        redis_check.contains("PONG"),
        "LOADING must not pass: {redis_check}"
    );
    assert_eq!(app["dependsOn"][0]["containerName"], "redis");
    assert_eq!(app["dependsOn"][0]["condition"], "HEALTHY");
    let app_check = app["healthCheck"]["command"].to_string();
    assert!(app_check.contains("/ready"), "{app_check}");
    assert_documented(env_names(&app["environment"]));
}

#[test]
fn compose_waits_for_a_healthy_redis_and_checks_readiness() {
    let compose = &yaml_documents("compose/docker-compose.yml")[0];
    let services = &compose["services"];
    let redis_check = services["redis"]["healthcheck"]["test"].to_string();
    assert!(redis_check.contains("PONG"), "{redis_check}");

    let app = &services["app"];
    assert_eq!(app["depends_on"]["redis"]["condition"], "service_healthy");
    assert!(app["healthcheck"]["test"].to_string().contains("/ready"));
    assert_documented(env_names(&app["environment"]));
}
