//! `warroom preflight` for AWS: who warroom is (`sts:GetCallerIdentity`), whether it can
//! assume the plan's role, and whether that role may make the EC2 calls the planned actions
//! make — asked with EC2's `DryRun`, which checks permission and changes nothing.
//!
//! Guarantees: no call here changes anything (identity reads and dry runs only). Caveat: Auto
//! Scaling has no dry run, so `SetInstanceProtection` is reported as not checked.

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
    report.checks.push(Check {
        call: "autoscaling:SetInstanceProtection".into(),
        verdict: "not checked".into(),
        detail: Some("Auto Scaling has no dry run".into()),
    });
    report
}
