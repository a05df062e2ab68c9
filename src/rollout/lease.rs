//! The rollout's Lease on the API server: read, create, write with the read's resourceVersion
//! (a holder that lost it learns so from the 409), and the control requests of `pause`,
//! `resume` and `abort`. The records themselves are in `state`.

use std::time::{Duration, Instant};

use anyhow::Result;
use http::Method;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::state::{CONTROL_ANNOTATION, HistoryRecord, LeaseRecord, RolloutState, lease_body, lease_name};
use crate::client::{Kube, encode};
use crate::error::{Exit, fail, http_status_of};
use crate::isvc::{GROUP, Isvc, VERSION};

const MERGE: &str = "application/merge-patch+json";

pub fn lease_path(ns: &str, isvc: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{}/leases/{}", encode(ns), encode(&lease_name(isvc)))
}

/// Reads the Lease; `None` when there is none.
pub async fn read(kube: &Kube, ns: &str, isvc: &str) -> Result<Option<(Value, LeaseRecord)>> {
    match kube.call(Method::GET, &lease_path(ns, isvc), None, None).await {
        Ok(v) => {
            let r = LeaseRecord::from_value(&v);
            Ok(Some((v, r)))
        }
        Err(e) if http_status_of(&e) == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes a control request (`pause`, `resume`, `abort`) for the holder to act on. No
/// precondition: the last request wins, and the holder compares it with the last one it saw.
pub async fn request(kube: &Kube, ns: &str, isvc: &str, value: &str) -> Result<()> {
    let body = json!({"metadata": {"annotations": {CONTROL_ANNOTATION: value}}});
    let uri = format!("{}?fieldManager={}", lease_path(ns, isvc), crate::patch::FIELD_MANAGER);
    kube.call(Method::PATCH, &uri, Some((MERGE, serde_json::to_vec(&body)?)), None).await?;
    Ok(())
}

/// This process's name as a holder: `user@host/pid`.
pub fn holder_identity() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}/{}", std::process::id())
}

/// The Lease as this process holds it: what it last wrote and read back.
pub struct Held {
    kube: Kube,
    pub ns: String,
    pub isvc: String,
    pub holder: String,
    pub duration: Duration,
    resource_version: String,
    transitions: i64,
    pub state: RolloutState,
    pub history: Vec<HistoryRecord>,
    /// The control annotation as last read.
    pub control: Option<String>,
    /// When a write last succeeded.
    pub renewed: Instant,
    /// Set once the lease is known lost: taken over (exit 7), or not renewed in time (exit 1).
    pub lost: Option<(Exit, String)>,
    /// Released: no more renewals.
    pub released: bool,
}

impl Held {
    /// Creates the Lease for a first rollout, owned by the InferenceService (deleted with it).
    pub async fn create(
        kube: &Kube,
        isvc: &Isvc,
        holder: &str,
        duration: Duration,
        state: RolloutState,
    ) -> Result<Held> {
        let mut body = lease_body(holder, duration, Timestamp::now(), 0, &state, &[]);
        body["apiVersion"] = json!("coordination.k8s.io/v1");
        body["kind"] = json!("Lease");
        body["metadata"]["name"] = json!(lease_name(&isvc.name));
        body["metadata"]["namespace"] = json!(isvc.namespace);
        if let Some(uid) = isvc.raw.pointer("/metadata/uid").and_then(Value::as_str) {
            body["metadata"]["ownerReferences"] = json!([{
                "apiVersion": format!("{GROUP}/{VERSION}"), "kind": "InferenceService", "name": isvc.name, "uid": uid
            }]);
        }
        body["spec"]["acquireTime"] = body["spec"]["renewTime"].clone();
        let uri = format!(
            "/apis/coordination.k8s.io/v1/namespaces/{}/leases?fieldManager={}",
            encode(&isvc.namespace),
            crate::patch::FIELD_MANAGER
        );
        let v = kube.call(Method::POST, &uri, Some(("application/json", serde_json::to_vec(&body)?)), None).await?;
        let r = LeaseRecord::from_value(&v);
        Ok(Held {
            kube: kube.clone(),
            ns: isvc.namespace.clone(),
            isvc: isvc.name.clone(),
            holder: holder.to_string(),
            duration,
            resource_version: r.resource_version,
            transitions: 0,
            state,
            history: vec![],
            control: r.control,
            renewed: Instant::now(),
            lost: None,
            released: false,
        })
    }

    /// Takes over a Lease that no one holds (free, expired, or released), with the read's
    /// resourceVersion: of two processes taking it at once, one gets a 409 and is refused.
    pub async fn take(
        kube: &Kube,
        isvc: &Isvc,
        read: &LeaseRecord,
        holder: &str,
        duration: Duration,
        state: RolloutState,
        history: Vec<HistoryRecord>,
    ) -> Result<Held> {
        let mut held = Held {
            kube: kube.clone(),
            ns: isvc.namespace.clone(),
            isvc: isvc.name.clone(),
            holder: holder.to_string(),
            duration,
            resource_version: read.resource_version.clone(),
            transitions: read.transitions + 1,
            state,
            history,
            control: read.control.clone(),
            renewed: Instant::now(),
            lost: None,
            released: false,
        };
        let mut body = held.body();
        body["spec"]["acquireTime"] = body["spec"]["renewTime"].clone();
        match held.send(&body).await {
            Ok(()) => Ok(held),
            Err(e) if http_status_of(&e) == Some(409) => Err(fail(
                Exit::Refused,
                format!(
                    "another process took the lease {} at the same moment: nothing was changed",
                    lease_name(&isvc.name)
                ),
            )),
            Err(e) => Err(e),
        }
    }

    fn body(&self) -> Value {
        let holder = if self.released { "" } else { self.holder.as_str() };
        let mut body =
            lease_body(holder, self.duration, Timestamp::now(), self.transitions, &self.state, &self.history);
        body["metadata"]["resourceVersion"] = json!(self.resource_version);
        body
    }

    async fn send(&mut self, body: &Value) -> Result<()> {
        let uri = format!("{}?fieldManager={}", lease_path(&self.ns, &self.isvc), crate::patch::FIELD_MANAGER);
        let v = self.kube.call(Method::PATCH, &uri, Some((MERGE, serde_json::to_vec(body)?)), None).await?;
        let r = LeaseRecord::from_value(&v);
        self.resource_version = r.resource_version;
        self.control = r.control;
        self.renewed = Instant::now();
        Ok(())
    }

    /// Writes the state and renews the claim. A 409 re-reads: still ours (a control request was
    /// written in between) ⇒ written again on the fresh resourceVersion; someone else's ⇒ lost.
    pub async fn save(&mut self) -> Result<()> {
        if let Some((exit, why)) = &self.lost {
            return Err(fail(*exit, why.clone()));
        }
        for _ in 0..4 {
            let body = self.body();
            match self.send(&body).await {
                Ok(()) => return Ok(()),
                Err(e) if http_status_of(&e) == Some(409) => {
                    let Some((_, fresh)) = read(&self.kube, &self.ns, &self.isvc).await? else {
                        return Err(self.lose("the lease was deleted"));
                    };
                    if fresh.holder != self.holder && !self.released {
                        let who = if fresh.holder.is_empty() { "nobody".to_string() } else { fresh.holder.clone() };
                        return Err(self.lose(&format!("the lease was taken over by {who}")));
                    }
                    self.resource_version = fresh.resource_version;
                    self.control = fresh.control;
                }
                Err(e) => return Err(e),
            }
        }
        Err(fail(Exit::Refused, "the lease kept changing: stopped"))
    }

    fn lose(&mut self, why: &str) -> anyhow::Error {
        let text = format!("{why}: this process no longer runs the rollout of {}", self.isvc);
        self.lost = Some((Exit::Refused, text.clone()));
        fail(Exit::Refused, text)
    }

    /// Renews; a failure is tolerated until the claim would run out, then the lease is lost.
    pub async fn renew(&mut self) {
        if self.released || self.lost.is_some() {
            return;
        }
        if let Err(e) = self.save().await
            && self.lost.is_none()
            && self.renewed.elapsed() >= self.duration
        {
            let why = format!("the lease could not be renewed for {}s ({e:#})", self.duration.as_secs());
            self.lost = Some((Exit::Failure, why));
        }
    }

    /// Gives the lease up (holder emptied), so that `--resume` or a new rollout can take it at
    /// once; the state stays for them.
    pub async fn release(&mut self) -> Result<()> {
        self.released = true;
        self.save().await
    }
}
