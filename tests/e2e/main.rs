//! End-to-end tests: the built binary against the shared test cluster (real kube-apiserver,
//! KServe's and Knative's real controllers, Knative's autoscaler, kube-scheduler, fake kubelet and ingress) that tests/run.sh
//! starts once and names in ISVC_CANARY_TEST_ENV. Every test makes its own namespace, so tests
//! are independent; at most ISVC_CANARY_E2E_JOBS (default 3) talk to the cluster at once.
//! Without ISVC_CANARY_TEST_ENV every test fails (never skips), naming tests/run.sh.

mod harness;
mod proc;

mod ci_example;
mod complete;
mod concurrency;
mod errors;
mod failures;
mod faultproxy;
mod faults;
mod flow;
mod guards;
mod metrics;
mod privilege;
mod prompt;
mod rbac;
mod readme;
mod rollout;
mod schema;
mod secrets;
mod standard;
mod waits;
mod writes;
