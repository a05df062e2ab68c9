//! Exit codes (one meaning each, cli-contract.md) and the error type that carries one.

use std::fmt;

/// The documented exit codes of the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, or nothing to do.
    Ok = 0,
    /// Unexpected failure, unreachable server, request timeout during a write.
    Failure = 1,
    /// Usage error or invalid input (including kubeconfig problems).
    Usage = 2,
    /// A wait timed out.
    Timeout = 3,
    /// The rollout failed.
    RolloutFailed = 4,
    /// Unauthorized, or forbidden by RBAC.
    Forbidden = 5,
    /// Not found: the InferenceService, the namespace, or the InferenceService API.
    NotFound = 6,
    /// Refused: by a guard rail, by admission, by validation, or by a persisting conflict.
    Refused = 7,
    /// Interrupted, or a prompt declined.
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that knows its exit code. Everything else that reaches `main` exits 1.
#[derive(Debug)]
pub struct Fail {
    pub exit: Exit,
    pub message: String,
    /// The HTTP status of the API server's answer, when the error is one: decisions such as
    /// "a conflict, retry" read the code, never the message text.
    pub http_status: Option<u16>,
    /// A write was sent and no answer came (a cut connection, the request timeout): it may have
    /// been applied.
    pub unanswered: bool,
}

impl Fail {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Fail { exit, message: message.into(), http_status: None, unanswered: false }
    }

    /// The API server answered `code`: the exit code of the contract, the status kept.
    pub fn from_status(code: u16, message: impl Into<String>) -> Self {
        let message = message.into();
        Fail { exit: exit_for_status(code, &message), message, http_status: Some(code), unanswered: false }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// Shorthand: `return Err(fail(Exit::Refused, "..."))`.
pub fn fail(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    Fail::new(exit, message).into()
}

/// The exit code for any error: a `Fail` anywhere in the chain decides, else 1.
pub fn exit_of(err: &anyhow::Error) -> Exit {
    err.chain().find_map(|e| e.downcast_ref::<Fail>().map(|f| f.exit)).unwrap_or(Exit::Failure)
}

/// The HTTP status of the API server's answer that caused the error, if one did.
pub fn http_status_of(err: &anyhow::Error) -> Option<u16> {
    err.chain().find_map(|e| e.downcast_ref::<Fail>().and_then(|f| f.http_status))
}

/// True when a write got no answer and may have been applied.
pub fn is_unanswered(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<Fail>().is_some_and(|f| f.unanswered))
}

/// True when the error is a broken pipe on stdout (`| head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Maps an API error status to the exit code of the contract.
///
/// 401 and the authorizer's 403 (`User "x" cannot verb resource ...`) are RBAC (5); every other
/// 403 is admission or policy (7); 404 is not found (6); 400/409/422 are refusals (7).
pub fn exit_for_status(code: u16, message: &str) -> Exit {
    match code {
        401 => Exit::Forbidden,
        403 if is_rbac_refusal(message) => Exit::Forbidden,
        403 => Exit::Refused,
        404 => Exit::NotFound,
        400 | 409 | 422 => Exit::Refused,
        // An admission webhook that could not be called (timed out, unreachable) under
        // failurePolicy Fail: admission refused the change, nothing was applied.
        500 if message.contains("failed calling webhook") => Exit::Refused,
        _ => Exit::Failure,
    }
}

/// Kubernetes' RBAC authorizer words its refusals `User "alice" cannot patch resource ...`.
pub fn is_rbac_refusal(message: &str) -> bool {
    message.contains(" cannot ") && message.contains("User \"")
        || message.starts_with("forbidden: User")
        || message.contains("is forbidden: User")
}

/// A 400/422 from the API server or KServe's webhook, verbatim, with what it means: when it
/// does not name a field the plugin wrote, the stored object itself is invalid under this
/// KServe release (KServe 0.20 validates the whole object on every update).
pub fn explain_invalid(err: anyhow::Error, touched: &[&str]) -> anyhow::Error {
    if !matches!(http_status_of(&err), Some(400 | 422)) {
        return err;
    }
    let message = format!("{err:#}");
    if touched.iter().any(|t| message.contains(t)) {
        return fail(Exit::Refused, format!("the change was refused: {message}"));
    }
    fail(
        Exit::Refused,
        format!(
            "the change was refused: {message}\nthe InferenceService itself is invalid under this KServe release \
             (KServe validates the whole object on every update, and the plugin changed none of the fields named): \
             fix the object (kubectl edit), then run the command again; nothing was changed"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_not_naming_the_plugin_s_fields_says_the_object_is_invalid() {
        let err: anyhow::Error =
            Fail::from_status(422, "spec.predictor.containers[0].env: PYTHONPATH is not allowed").into();
        let text = format!("{:#}", explain_invalid(err, &["canary", "trafficPercent", "predictor.name"]));
        assert!(text.contains("PYTHONPATH is not allowed"), "{text}");
        assert!(text.contains("invalid under this KServe release"), "{text}");
        let err: anyhow::Error = Fail::from_status(422, "canary traffic percentages sum to 120").into();
        assert!(
            !format!("{:#}", explain_invalid(err, &["canary", "trafficPercent", "predictor.name"]))
                .contains("invalid under")
        );
    }

    #[test]
    fn codes_are_the_documented_numbers() {
        let all = [
            (Exit::Ok, 0),
            (Exit::Failure, 1),
            (Exit::Usage, 2),
            (Exit::Timeout, 3),
            (Exit::RolloutFailed, 4),
            (Exit::Forbidden, 5),
            (Exit::NotFound, 6),
            (Exit::Refused, 7),
            (Exit::Interrupted, 130),
        ];
        for (exit, code) in all {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
    }

    #[test]
    fn rbac_403_is_5_and_webhook_403_is_7() {
        let rbac = r#"inferenceservices.serving.kserve.io "x" is forbidden: User "bob" cannot patch resource "inferenceservices" in API group "serving.kserve.io" in the namespace "t""#;
        assert_eq!(exit_for_status(403, rbac), Exit::Forbidden);
        let webhook = r#"admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request: bad"#;
        assert_eq!(exit_for_status(403, webhook), Exit::Refused);
        assert_eq!(exit_for_status(401, "Unauthorized"), Exit::Forbidden);
        assert_eq!(exit_for_status(404, "not found"), Exit::NotFound);
        assert_eq!(exit_for_status(422, "invalid"), Exit::Refused);
        assert_eq!(exit_for_status(500, "boom"), Exit::Failure);
        let timed_out = r#"Internal error occurred: failed calling webhook "v.example.com": failed to call webhook: Post "https://127.0.0.1:1/v": context deadline exceeded"#;
        assert_eq!(exit_for_status(500, timed_out), Exit::Refused);
    }

    #[test]
    fn fail_in_chain_decides_the_exit() {
        let err = anyhow::Error::from(Fail::new(Exit::NotFound, "gone")).context("reading x");
        assert_eq!(exit_of(&err), Exit::NotFound);
        assert_eq!(exit_of(&anyhow::anyhow!("plain")), Exit::Failure);
    }

    #[test]
    fn api_answers_keep_their_status() {
        let err = anyhow::Error::from(Fail::from_status(409, "the object has been modified"));
        assert_eq!((exit_of(&err), http_status_of(&err)), (Exit::Refused, Some(409)));
        assert_eq!(http_status_of(&fail(Exit::Refused, "a guard rail")), None);
    }
}
