//! `warroom preflight` for AWS: who warroom is (`sts:GetCallerIdentity`), whether it can
//! assume the plan's role, and whether that role may make the EC2 calls the planned actions
//! make — asked with EC2's `DryRun`, which checks permission and changes nothing.
//!
//! The calls without a dry run (Auto Scaling, IAM, EKS, snapshot lock) are asked of IAM's
//! policy simulator (`iam:SimulatePrincipalPolicy` on the plan's role).
//!
//! Guarantees: no call here changes anything (identity reads, dry runs and simulation only).
//! Caveats: the simulator evaluates the role's identity policies (and permissions boundary),
//! not resource policies or session policies; when the role may not simulate, those calls are
//! reported "not checked" with AWS's answer.

use aws_sdk_ec2::types::{AttributeBooleanValue, InstanceSpecification};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use super::identity::{Account, SessionFor};

/// One permission checked.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// The API call, e.g. `ec2:CreateSnapshots`.
    pub call: String,
    /// `allowed`, `denied`, `unknown` or `not checked`.
    pub verdict: String,
    pub detail: Option<String>,
}

/// What preflight found for one account.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub account: String,
    /// The base identity's ARN, or why it could not be read.
    #[serde(serialize_with = "either")]
    pub caller: Result<String, String>,
    /// The role, and whether it could be assumed (`"assumed"` or why not).
    pub role: String,
    #[serde(serialize_with = "either")]
    pub assumed: Result<String, String>,
    pub checks: Vec<Check>,
}

/// `{"ok": value}` or `{"error": why}`.
fn either<S: serde::Serializer>(r: &Result<String, String>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(1))?;
    match r {
        Ok(v) => m.serialize_entry("ok", v)?,
        Err(e) => m.serialize_entry("error", e)?,
    }
    m.end()
}

impl Report {
    /// Everything checked was allowed.
    pub fn ok(&self) -> bool {
        self.caller.is_ok()
            && self.assumed.is_ok()
            && self
                .checks
                .iter()
                .all(|c| c.verdict == "allowed" || c.verdict == "not checked")
    }
}

fn verdict<E: ProvideErrorMetadata>(call: &str, result: Result<(), E>) -> Check {
    let (verdict, detail) = match result {
        // A dry run that would have succeeded answers with this "error".
        Err(e) if e.code() == Some("DryRunOperation") => ("allowed", None),
        Err(e) if matches!(e.code(), Some("UnauthorizedOperation" | "AccessDenied")) => {
            ("denied", e.message().map(str::to_owned))
        }
        Err(e) => (
            "unknown",
            Some(format!(
                "{}: {}",
                e.code().unwrap_or("no error code"),
                e.message().unwrap_or("no message")
            )),
        ),
        Ok(()) => (
            "unknown",
            Some("the dry run was carried out instead of refused".into()),
        ),
    };
    Check {
        call: call.to_owned(),
        verdict: verdict.to_owned(),
        detail,
    }
}

/// The call asked as a dry run: AWS answers whether it would have been permitted.
macro_rules! dry_run {
    ($call:expr) => {
        $call
            .dry_run(true)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_sdk_ec2::Error::from)
    };
}

/// `instance`: an instance of the cluster (a node's), for calls that name one.
pub async fn check(account: &Account, region: &str, instance: Option<&str>) -> Report {
    let mut report = Report {
        account: account.name.clone(),
        caller: account.caller().await.map_err(|e| e.to_string()),
        role: account.role_arn.clone(),
        assumed: Ok("assumed".into()),
        checks: Vec::new(),
    };
    let session = SessionFor {
        incident: "preflight",
        request: "check",
        requester: "warroom",
        approver: None,
    };
    let config = match account.assume(&session, region).await {
        Ok(c) => c,
        Err(e) => {
            report.assumed = Err(e.to_string());
            return report;
        }
    };
    let ec2 = aws_sdk_ec2::Client::new(&config);
    // AWS checks permission before it looks the instance up, so any id serves for a dry run.
    let id = instance.unwrap_or("i-0000000000000000f");
    report.checks.push(verdict(
        "ec2:DescribeInstances",
        dry_run!(ec2.describe_instances().instance_ids(id)),
    ));
    report.checks.push(verdict(
        "ec2:CreateSnapshots",
        dry_run!(
            ec2.create_snapshots()
                .instance_specification(InstanceSpecification::builder().instance_id(id).build())
        ),
    ));
    report.checks.push(verdict(
        "ec2:ModifyInstanceAttribute",
        dry_run!(
            ec2.modify_instance_attribute()
                .instance_id(id)
                .disable_api_termination(AttributeBooleanValue::builder().value(true).build())
        ),
    ));
    let iam = aws_sdk_iam::Client::new(&config);
    report
        .checks
        .extend(simulate(&iam, &account.role_arn, SIMULATED).await);
    report
}

/// The calls the actions make that have no dry run, asked of the policy simulator.
pub const SIMULATED: &[&str] = &[
    "ec2:LockSnapshot",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:SetInstanceProtection",
    "iam:GetInstanceProfile",
    "iam:GetRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "eks:ListPodIdentityAssociations",
    "eks:DescribePodIdentityAssociation",
];

/// Each call's decision for `role` by IAM's policy simulator; every call "not checked" when
/// the simulation itself is refused or fails.
pub async fn simulate(iam: &aws_sdk_iam::Client, role: &str, calls: &[&str]) -> Vec<Check> {
    let asked = iam
        .simulate_principal_policy()
        .policy_source_arn(role)
        .set_action_names(Some(calls.iter().map(|c| (*c).to_owned()).collect()))
        .send()
        .await;
    let results = match asked {
        Ok(out) => out.evaluation_results().to_vec(),
        Err(e) => {
            let why = format!(
                "policy simulation of {role} was not possible: {}",
                super::errors::describe(&e)
            );
            return calls
                .iter()
                .map(|c| Check {
                    call: (*c).to_owned(),
                    verdict: "not checked".into(),
                    detail: Some(why.clone()),
                })
                .collect();
        }
    };
    calls
        .iter()
        .map(|call| {
            let found = results.iter().find(|r| r.eval_action_name() == *call);
            let (verdict, detail) = match found.map(|r| r.eval_decision().as_str()) {
                Some("allowed") => ("allowed", None),
                Some("explicitDeny") => ("denied", Some("a statement denies it (explicit deny)")),
                Some("implicitDeny") => ("denied", Some("no statement allows it (implicit deny)")),
                Some(_) | None => ("unknown", Some("the simulator gave no decision")),
            };
            Check {
                call: (*call).to_owned(),
                verdict: verdict.to_owned(),
                detail: detail.map(|d| format!("policy simulation: {d}")),
            }
        })
        .collect()
}
