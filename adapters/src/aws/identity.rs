//! Who warroom is on AWS: per `[[aws_accounts]]`, credentials from the default chain
//! (environment, profile, IRSA / EKS Pod Identity web identity), then `sts:AssumeRole` into
//! the plan's incident-response role for each action.
//!
//! Guarantees: every action runs on a fresh role session whose name carries the incident and
//! request (`warroom-INC-20261201-0001-R3`), tagged with requester and approver (session tags,
//! visible in CloudTrail), with the plan's external id when it has one. Assumes the base
//! credentials may call `sts:AssumeRole` (and `sts:TagSession`) on the role. Caveat: a session
//! lives an hour; an action that outlasts it (a very long snapshot wait) fails its last calls
//! and says so.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_sts::types::Tag;
use aws_types::region::Region;

use super::errors::classify;
use crate::cluster::ClusterError;

/// One `[[aws_accounts]]` entry, ready to assume its role.
#[derive(Clone)]
pub struct Account {
    pub name: String,
    /// The plan's region, for calls that name no instance.
    pub region: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    /// The cluster's name in EKS (for Pod Identity); `None`: the plan's cluster name.
    pub eks_cluster: Option<String>,
    /// `snapshot_lock` of the plan's account: what `snapshot --lock` applies.
    pub snapshot_lock: Option<warroom_config::model::infra::SnapshotLock>,
    base: SdkConfig,
}

/// Who asked, who approved, for the session's name and tags.
pub struct SessionFor<'a> {
    pub incident: &'a str,
    pub request: &'a str,
    pub requester: &'a str,
    pub approver: Option<&'a str>,
}

impl Account {
    /// The default credential chain in the account's region; `endpoint` (e.g. a VPC endpoint
    /// or a local test server) for every service when given.
    pub async fn load(
        name: &str,
        region: &str,
        role_arn: &str,
        external_id: Option<String>,
        endpoint: Option<&str>,
    ) -> Account {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .http_client(super::http_client())
            .timeout_config(super::timeouts());
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        Account {
            name: name.to_owned(),
            region: region.to_owned(),
            role_arn: role_arn.to_owned(),
            external_id,
            eks_cluster: None,
            snapshot_lock: None,
            base: loader.load().await,
        }
    }

    /// Who the base credentials are (`sts:GetCallerIdentity`): the ARN.
    pub async fn caller(&self) -> Result<String, ClusterError> {
        let sts = aws_sdk_sts::Client::new(&self.base);
        let me = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify("GetCallerIdentity", e))?;
        Ok(me.arn().unwrap_or("an unnamed identity").to_owned())
    }

    /// A config acting as the plan's role, for one action in `region`.
    pub async fn assume(
        &self,
        session: &SessionFor<'_>,
        region: &str,
    ) -> Result<SdkConfig, ClusterError> {
        let sts = aws_sdk_sts::Client::new(&self.base);
        let mut call = sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(session_name(session.incident, session.request))
            .duration_seconds(3600);
        for (key, value) in [
            ("warroom-incident", Some(session.incident)),
            ("warroom-requester", Some(session.requester)),
            ("warroom-approver", session.approver),
        ] {
            if let Some(value) = value
                && let Ok(tag) = Tag::builder().key(key).value(value).build()
            {
                call = call.tags(tag);
            }
        }
        if let Some(id) = &self.external_id {
            call = call.external_id(id);
        }
        let doing = format!("AssumeRole {} (account {})", self.role_arn, self.name);
        let out = call.send().await.map_err(|e| classify(&doing, e))?;
        let c = out.credentials().ok_or_else(|| {
            ClusterError::Upstream(format!("{doing}: the answer has no credentials"))
        })?;
        let expires = std::time::SystemTime::try_from(*c.expiration()).ok();
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expires,
            "warroom-assume-role",
        );
        Ok(self
            .base
            .to_builder()
            .region(Region::new(region.to_owned()))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
            )
            .build())
    }
}

/// `warroom-INC-20261201-0001-R3`, within STS's 64 characters and its alphabet.
pub fn session_name(incident: &str, request: &str) -> String {
    let name: String = format!("warroom-{incident}-{request}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_carry_the_incident_and_fit_sts() {
        assert_eq!(
            session_name("INC-20261201-0001", "R3"),
            "warroom-INC-20261201-0001-R3"
        );
        let long = session_name(&"X".repeat(100), "R1");
        assert_eq!(long.len(), 64);
        assert_eq!(session_name("INC 1/2", "R1"), "warroom-INC-1-2-R1");
    }
}
