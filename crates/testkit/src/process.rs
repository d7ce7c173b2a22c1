//! A program under test, run as a real child process: its output captured line by line, signals
//! sent to it, killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::poll;

/// `target/<profile>/<relative>` (an example such as `examples/demo`, or a binary such as
/// `redis-gate`), found next to the running test binary. `cargo test` builds examples and
/// binaries before it runs any test; `how` says how to build it otherwise.
///
/// # Panics
///
/// If it has not been built.
pub fn built(relative: &str, how: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join(relative);
    assert!(
        path.exists(),
        "{} is missing: `cargo test --workspace --all-features` builds it, or run `{how}`",
        path.display()
    );
    path
}

/// A running child process whose stdout and stderr are collected in the background.
///
/// Dropping it kills the process, collects the rest of its output and checks all of it for
/// registered test passwords (see [`secrets`](crate::secrets)).
pub struct Spawned {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    collectors: Vec<JoinHandle<()>>,
}

impl Spawned {
    /// Runs `program` with exactly `env` (plus `PATH`), capturing its output.
    ///
    /// # Panics
    ///
    /// If the program cannot be started.
    pub fn start(program: &Path, env: &[(&str, &str)]) -> Spawned {
        Spawned::start_with_args(program, &[], env)
    }

    /// Like [`start`](Self::start), with command-line arguments.
    ///
    /// # Panics
    ///
    /// If the program cannot be started.
    pub fn start_with_args(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        let (stdout, out_collector) = collect(child.stdout.take().expect("piped stdout"));
        let (stderr, err_collector) = collect(child.stderr.take().expect("piped stderr"));
        Spawned {
            child,
            stdout,
            stderr,
            collectors: vec![out_collector, err_collector],
        }
    }

    /// The lines written to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The lines written to stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything written to stdout and stderr so far.
    pub fn output(&self) -> String {
        let mut all = self.stdout();
        all.extend(self.stderr());
        all.join("\n")
    }

    /// Waits up to `deadline` for a line on stdout or stderr that contains `needle`.
    pub fn wait_for_line(&self, needle: &str, deadline: Duration) -> Option<String> {
        let mut found = None;
        poll::blocking(deadline, || {
            found = self
                .stdout()
                .into_iter()
                .chain(self.stderr())
                .find(|line| line.contains(needle));
            found.is_some()
        });
        found
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIGTERM`.
    pub fn terminate(&self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = signal::kill(pid, Signal::SIGTERM);
    }

    /// Waits up to `deadline` for the process to exit, then for the rest of its output; `None`
    /// if it is still running.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let mut status = None;
        poll::blocking(deadline, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        if status.is_some() {
            self.collected();
        }
        status
    }

    /// Waits until the output of an exited process is read: the pipes close with it (a
    /// grandchild holding them open is not waited for).
    fn collected(&self) {
        poll::blocking(COLLECT_DEADLINE, || {
            self.collectors.iter().all(JoinHandle::is_finished)
        });
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collected();
        crate::secrets::check("the output of a child process", &self.output());
    }
}

/// How long a [`Spawned`] waits for the rest of the output of a process that has exited.
const COLLECT_DEADLINE: Duration = Duration::from_secs(2);

fn collect(stream: impl Read + Send + 'static) -> (Arc<Mutex<Vec<String>>>, JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let collector = thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    });
    (lines, collector)
}
