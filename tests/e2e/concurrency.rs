//! Editors at once (contract, "Preconditions and conflicts"): two plugins and another field
//! manager (kubectl) change one InferenceService at the same moment, round after round. Nothing
//! anyone wrote is lost (whole objects compared), and a plugin whose precondition met someone
//! else's change to the fields it owns says so with exit 7; nothing else ends it.

use serde_json::{Value, json};

use crate::harness::{MODEL_1, Ns, merged, owned_view};

#[test]
fn concurrent_editors_lose_nothing_and_conflicts_exit_7() {
    let ns = Ns::new("concurrent");
    let name = "shared";
    ns.create_ready(name, MODEL_1);
    let (mut written, mut refused) = (0, 0);
    for round in 0..5i64 {
        let before = owned_view(&ns.get(name));
        let percents = [10 + round, 60 + round];
        let plugins: Vec<_> =
            percents.iter().map(|p| ns.plugin_spawn(["set", name, &p.to_string(), "--yes"])).collect();
        let label = format!("round-{round}=x");
        let note = format!("note-{round}=y");
        let others = [
            ns.kubectl_cmd()
                .args(["-n", &ns.name, "label", "inferenceservice.serving.kserve.io", name, &label])
                .spawn(),
            ns.kubectl_cmd()
                .args(["-n", &ns.name, "annotate", "inferenceservice.serving.kserve.io", name, &note])
                .spawn(),
        ];
        let results: Vec<_> = plugins.into_iter().map(|p| p.finish()).collect();
        for other in others {
            other.finish().ok();
        }
        let mut winners = Vec::new();
        for (out, p) in results.iter().zip(percents) {
            match out.code {
                Some(0) => {
                    written += 1;
                    winners.push(p);
                }
                Some(7) => {
                    refused += 1;
                    assert!(out.stderr.contains("changed while this command ran"), "{}", out.describe());
                }
                _ => panic!("a plugin ended otherwise than 0 or 7\n{}", out.describe()),
            }
        }
        let after = owned_view(&ns.get(name));
        let ctp = after.pointer("/spec/predictor/canaryTrafficPercent").cloned().unwrap_or(Value::Null);
        let from_a_writer = winners.iter().any(|p| ctp == json!(p));
        let nobody_wrote = winners.is_empty() && ctp == before["spec"]["predictor"]["canaryTrafficPercent"];
        assert!(from_a_writer || nobody_wrote, "round {round}: ctp {ctp} from no plugin that ended 0 ({winners:?})");
        // Everything else is exactly the object before plus kubectl's label and annotation.
        let expected = merged(
            &before,
            &json!({"metadata": {"labels": {format!("round-{round}"): "x"}, "annotations": {format!("note-{round}"): "y"}},
                    "spec": {"predictor": {"canaryTrafficPercent": ctp}}}),
        );
        assert_eq!(after, expected, "round {round}: a change was lost or an unowned field moved");
    }
    eprintln!("concurrent editors: 5 rounds, {written} plugin writes, {refused} refused with exit 7");
}
