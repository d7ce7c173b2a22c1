//! The probe driven as a layer, through its paths and bodies.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use redis_gate_core::{AvailabilityReporter, Status};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

use super::ReadinessProbeLayer;

async fn status(layer: &ReadinessProbeLayer, path: &str) -> StatusCode {
    let service = layer.layer(service_fn(|_req: Request<()>| async {
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::IM_A_TEAPOT;
        Ok::<_, std::convert::Infallible>(res)
    }));
    let req = Request::get(path).body(()).unwrap();
    service.oneshot(req).await.unwrap().status()
}

async fn verbose(layer: &ReadinessProbeLayer) -> String {
    let service = layer.layer(service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
    }));
    let req = Request::get("/ready?verbose").body(()).unwrap();
    let body = service.oneshot(req).await.unwrap().into_body();
    let bytes = body.collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn verbose_readiness_says_why_in_status_words_and_names_the_policy() {
    let required = AvailabilityReporter::new("required");
    let at_startup = AvailabilityReporter::new("at_startup");
    let optional = AvailabilityReporter::new("optional");
    let layer = ReadinessProbeLayer::new()
        .require(required.availability())
        .require_at_startup(at_startup.availability())
        .optional(optional.availability());
    let all = |line: &str| {
        format!(
            "[-]required failed: {line}\n[-]at_startup failed: {line} (required_at_startup)\n\
             [-]optional failed: {line} (optional)\nreadiness check failed\n"
        )
    };
    let reporters = [&required, &at_startup, &optional];
    let each = |write: &dyn Fn(&AvailabilityReporter)| reporters.iter().for_each(|r| write(r));
    assert_eq!(verbose(&layer).await, all("connecting"));

    // Startup gave up without a connection: the service runs without them.
    each(&|r| {
        r.set_status(Status::Failed);
    });
    assert_eq!(verbose(&layer).await, all("never available"));
    each(&|r| {
        r.mark_started();
    });
    assert_eq!(verbose(&layer).await, all("never available, startup over"));

    each(&|r| {
        r.set_status(Status::Connected);
        r.set_status(Status::Disconnected);
    });
    assert_eq!(
        verbose(&layer).await,
        "[-]required failed: disconnected\n\
         [-]at_startup failed: disconnected (required_at_startup)\n\
         [-]optional failed: disconnected (optional)\nreadiness check failed\n",
        "the startup check is optional now, but keeps its own name"
    );
    each(&|r| {
        r.set_status(Status::Failed);
    });
    assert_eq!(verbose(&layer).await, all("lasting failure"));
    each(&|r| {
        r.mark_unavailable("rotating the password hunter2");
    });
    assert_eq!(verbose(&layer).await, all("maintenance"));
    each(&|r| {
        r.mark_stalled();
    });
    assert_eq!(verbose(&layer).await, all("monitor stalled"));
    each(&|r| {
        r.stop();
    });
    assert_eq!(verbose(&layer).await, all("monitor stopped"));
}

#[tokio::test]
async fn paths_of_any_length_match_and_same_length_near_misses_do_not() {
    let reporter = AvailabilityReporter::default();
    let long = format!("/{}", "l".repeat(62)); // 63 bytes: the last bit of the mask
    let longer = format!("/{}", "x".repeat(200)); // shares that bit
    let layer = ReadinessProbeLayer::new()
        .require(reporter.availability())
        .liveness_paths([long.as_str(), longer.as_str(), "/"])
        .readiness_paths(["/r"])
        .details_path("/d");
    for path in [long.as_str(), longer.as_str(), "/"] {
        assert_eq!(status(&layer, path).await, StatusCode::OK, "{path}");
    }
    assert_eq!(status(&layer, "/r").await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(status(&layer, "/d").await, StatusCode::OK);

    let near_misses = [
        format!("/{}", "m".repeat(62)),
        format!("/{}", "x".repeat(199)),
        format!("/{}", "x".repeat(201)),
        "/s".to_owned(),
        "/health".to_owned(),
        "/ready".to_owned(),
    ];
    for path in &near_misses {
        assert_eq!(
            status(&layer, path).await,
            StatusCode::IM_A_TEAPOT,
            "{path}"
        );
    }
}
