//! The CI example of README.md (`examples/ci-canary.sh`, one `rollout` command) run as a pipeline
//! would run it: once with a model that loads (ends promoted, exit 0) and once with one the test
//! cluster never loads (ends rolled back to the previous revision, exit 4).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{MODEL_1, MODEL_2, MODEL_FAIL, Ns, rev, traffic};
use crate::proc::{Cmd, Output, plugin_bin};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci-canary.sh")
}

/// Runs the script with the plugin first on PATH and the admin kubeconfig, as a CI job would.
fn run_script(ns: &Ns, name: &str, model: &str) -> Output {
    let bin_dir = plugin_bin().parent().map(Path::to_path_buf).unwrap_or_default();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let (host, port) = ns.cluster.ingress.split_once(':').unwrap_or(("127.0.0.1", "80"));
    Cmd::new("bash")
        .arg(script())
        .args([ns.name.as_str(), name, model, "10"])
        .env("PATH", path)
        .env("KUBECONFIG", ns.cluster.admin.clone())
        .env("INGRESS_HOST", host)
        .env("INGRESS_PORT", port)
        .env("CANARY_TIMEOUT", "5m")
        .env("CANARY_PAUSE", "2s")
        .limit(Duration::from_secs(900))
        .run()
}

#[test]
fn ci_example_promotes_a_good_model() {
    let ns = Ns::new("ci-example-good");
    ns.create_ready("iris", MODEL_1);
    let out = run_script(&ns, "iris", MODEL_2);
    out.ok();
    out.stdout_has_line("inferenceservice.serving.kserve.io/iris promoted");
    assert!(out.stdout.contains("GatePassed step 1/2 10%: smoke: HTTP 200"), "{}", out.describe());
    // Tag routing came on in the new model's own patch: one new revision, promoted alone at 100 %.
    let v = ns.get("iris");
    let predictor = &v["status"]["components"]["predictor"];
    assert_eq!(predictor["latestRolledoutRevision"], rev("iris", 2), "{}", out.describe());
    let t = traffic(&v);
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!((t[0].0.as_str(), t[0].1), (rev("iris", 2).as_str(), 100), "{t:?}");
    assert!(v["spec"]["predictor"].get("canaryTrafficPercent").is_none(), "{v}");
}

#[test]
fn ci_example_rolls_back_a_model_that_never_loads() {
    let ns = Ns::new("ci-example-bad");
    ns.create_ready("iris", MODEL_1);
    let out = run_script(&ns, "iris", MODEL_FAIL);
    out.code(4);
    assert!(
        out.stderr.lines().any(|l| l.starts_with(&format!("error: rollout failed: {} ", rev("iris", 2)))),
        "no `error: rollout failed: {} …` line\n{}",
        rev("iris", 2),
        out.describe()
    );
    assert!(out.stderr.contains("rolled back: 100% of traffic to"), "{}", out.describe());
    assert!(out.stdout.contains("RolledBack"), "{}", out.describe());
    // Rolled back: the canary pinned at 0 %, all traffic on the revision rolled out before.
    let v = ns.get("iris");
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 0, "{}", out.describe());
    let t = traffic(&v);
    let prev = t.iter().find(|e| e.2 == "prev").unwrap_or_else(|| panic!("no prev entry: {t:?}"));
    assert_eq!((prev.0.as_str(), prev.1), (rev("iris", 1).as_str(), 100), "{t:?}");
}
