//! Running the built plugin against a [`Stub`]: a kubeconfig in a fresh directory that points at
//! the stub (token user, namespace set), stdin null, a clean environment, and a time limit so that
//! a hanging command fails its test instead of hanging the run.

use std::time::Duration;

use crate::objects::{NS, isvc_list_path};
use crate::proc::{Cmd, Output};
use crate::stub::{Recorded, Stub, scratch};

/// A command that has not ended within this is killed (only a bound on hangs, never a verdict).
const LIMIT: Duration = Duration::from_secs(30);

/// What one run did: the command's output and every request the stub received meanwhile.
pub struct Run {
    pub out: Output,
    pub requests: Vec<Recorded>,
}

/// Runs `kubectl-isvc_canary --kubeconfig K ARGS...` against the stub.
pub fn run(stub: &Stub, args: &[&str]) -> Run {
    let config = stub.kubeconfig(NS);
    let out = Cmd::plugin()
        .env("HOME", scratch("home").display().to_string())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .arg("--kubeconfig")
        .arg(&config)
        .args(args)
        .limit(LIMIT)
        .run();
    Run { out, requests: stub.requests() }
}

impl Run {
    /// The command, its output and the requests, for assertion messages.
    pub fn describe(&self) -> String {
        let lines: Vec<String> = self.requests.iter().map(|r| format!("  {}", r.line())).collect();
        format!("{}--- requests:\n{}\n", self.out.describe(), lines.join("\n"))
    }

    #[track_caller]
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(self.out.code, Some(want), "unexpected exit code\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> bool {
        self.out.stderr.contains(needle)
    }

    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(self.out.stderr.contains(needle), "stderr lacks {needle:?}\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Run {
        assert_eq!(self.out.stdout, want, "stdout differs\n{}", self.describe());
        self
    }

    /// stdout as JSON (`-o json`).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.out.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.describe()))
    }

    /// The requests to the InferenceService API (the object and its list/watch), in order.
    pub fn isvc_requests(&self) -> Vec<&Recorded> {
        let list = isvc_list_path();
        self.requests.iter().filter(|r| r.path.starts_with(&list)).collect()
    }

    /// Their verbs: `GET`, `PATCH`, `WATCH`.
    pub fn isvc_verbs(&self) -> Vec<&str> {
        self.isvc_requests().into_iter().map(Recorded::verb).collect()
    }

    pub fn patches(&self) -> Vec<&Recorded> {
        self.isvc_requests().into_iter().filter(|r| r.method == "PATCH").collect()
    }

    pub fn watches(&self) -> Vec<&Recorded> {
        self.isvc_requests().into_iter().filter(|r| r.verb() == "WATCH").collect()
    }

    /// Requests no rule answered (the stub said 404).
    pub fn unanswered(&self) -> Vec<&Recorded> {
        self.requests.iter().filter(|r| r.rule.is_none()).collect()
    }

    /// Asserts that every request had a rule: nothing unexpected was asked.
    #[track_caller]
    pub fn all_answered(&self) -> &Run {
        assert!(self.unanswered().is_empty(), "requests with no rule\n{}", self.describe());
        self
    }
}
