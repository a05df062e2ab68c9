//! Which InferenceService a command acts on (contract, "Which InferenceService"), and the
//! not-found errors that say what does exist.

use anyhow::Result;

use crate::client::Kube;
use crate::error::{Exit, Fail, exit_of, fail};
use crate::isvc::Isvc;
use crate::terminal::Terminal;

const NO_API: &str = "the server could not find the requested resource";

/// Reads the named InferenceService, or finds the one to use when no name is given.
/// One request on the happy path (a GET, or a LIST without a name).
pub async fn resolve(kube: &Kube, term: &Terminal, name: Option<&str>) -> Result<Isvc> {
    let isvc = find(kube, term, name).await?;
    check_answer(&isvc, &kube.namespace, name)?;
    Ok(isvc)
}

/// The object a command acts on must be the one asked for (or listed), with a name that can go
/// into a path: a write never goes to an object the command did not mean.
fn check_answer(isvc: &Isvc, ns: &str, asked: Option<&str>) -> Result<()> {
    let answered = format!("{}/{}", isvc.namespace, isvc.name);
    let wrong = match asked {
        Some(name) => isvc.name != name || isvc.namespace != ns,
        None => isvc.namespace != ns || crate::names::check_name(&isvc.name).is_err(),
    };
    if wrong {
        let asked = asked.map_or_else(|| format!("an InferenceService of {ns}"), |n| format!("{ns}/{n}"));
        return Err(fail(
            Exit::Failure,
            crate::output::sanitize(&format!(
                "the API server answered with another object than the one asked (asked for {asked}, got '{answered}', its metadata.name or namespace): nothing was changed"
            )),
        ));
    }
    Ok(())
}

/// The named InferenceService, or the one to use when no name is given.
async fn find(kube: &Kube, term: &Terminal, name: Option<&str>) -> Result<Isvc> {
    let ns = kube.namespace.as_str();
    if let Some(name) = name {
        crate::names::check_name(name)?;
        return match kube.get_isvc(ns, name).await {
            Ok(isvc) => Ok(isvc),
            Err(e) if exit_of(&e) == Exit::NotFound => Err(explain_not_found(kube, &e, Some(name)).await),
            Err(e) => Err(e),
        };
    }
    let list = match kube.list_isvcs(Some(ns), None).await {
        Ok(list) => list,
        Err(e) if exit_of(&e) == Exit::Forbidden => {
            return Err(fail(Exit::Forbidden, format!("{e:#}; pass NAME to act on one InferenceService")));
        }
        Err(e) if exit_of(&e) == Exit::NotFound => return Err(explain_not_found(kube, &e, None).await),
        Err(e) => return Err(e),
    };
    match list.len() {
        0 => Err(no_isvc_here(kube).await),
        1 => {
            let isvc = list.into_iter().next().unwrap_or_else(|| Isvc::from_value(serde_json::Value::Null));
            term.note(&format!("using inferenceservice {} (the only one in namespace {ns})", isvc.name));
            Ok(isvc)
        }
        _ => {
            let names: Vec<String> = list.iter().map(|i| i.name.clone()).collect();
            match term.pick(&format!("Which InferenceService in {ns}?"), &names)? {
                Some(chosen) => Ok(list
                    .into_iter()
                    .find(|i| i.name == chosen)
                    .unwrap_or_else(|| Isvc::from_value(serde_json::Value::Null))),
                None => Err(fail(
                    Exit::Usage,
                    format!("namespace {ns} has {} InferenceServices ({}): pass NAME", names.len(), names.join(", ")),
                )),
            }
        }
    }
}

/// Turns a 404 into the contract's message: the API missing, the namespace missing, or the
/// InferenceService missing with the names that do exist.
pub async fn explain_not_found(kube: &Kube, err: &anyhow::Error, name: Option<&str>) -> anyhow::Error {
    let ns = kube.namespace.as_str();
    if format!("{err:#}").contains(NO_API) {
        return fail(
            Exit::NotFound,
            format!(
                "the InferenceService API (serving.kserve.io/v1beta1) is not served by {}: is KServe installed?",
                kube.server
            ),
        );
    }
    let Some(name) = name else { return no_isvc_here(kube).await };
    match kube.list_isvcs(Some(ns), None).await {
        Ok(list) if !list.is_empty() => {
            let names: Vec<String> = list.iter().map(|i| i.name.clone()).collect();
            fail(
                Exit::NotFound,
                format!("inferenceservice \"{name}\" not found in namespace {ns}; it has: {}", names.join(", ")),
            )
        }
        Ok(_) => match namespace_missing(kube).await {
            Some(e) => e,
            None => fail(
                Exit::NotFound,
                format!("inferenceservice \"{name}\" not found: namespace {ns} has no InferenceService"),
            ),
        },
        Err(_) => fail(Exit::NotFound, format!("inferenceservice \"{name}\" not found in namespace {ns}")),
    }
}

async fn no_isvc_here(kube: &Kube) -> anyhow::Error {
    match namespace_missing(kube).await {
        Some(e) => e,
        None => fail(Exit::NotFound, format!("no InferenceService in namespace {}", kube.namespace)),
    }
}

/// `Some(error)` when the namespace itself does not exist (a forbidden read says nothing).
async fn namespace_missing(kube: &Kube) -> Option<anyhow::Error> {
    match kube.get_namespace(&kube.namespace).await {
        Err(e) if exit_of(&e) == Exit::NotFound => Some(
            Fail::new(Exit::NotFound, format!("namespace \"{}\" not found (pass -n NAMESPACE)", kube.namespace)).into(),
        ),
        _ => None,
    }
}
