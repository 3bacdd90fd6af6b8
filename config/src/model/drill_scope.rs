//! `warroom drill` on a plan written for production: what the drill leaves out, so that a
//! rehearsal on a laptop or in a pod never reaches the production ledger copy, its Lease or
//! the evidence bucket.

use super::Plan;
use super::storage::EvidenceStore;

impl Plan {
    /// Make this plan a drill's, leaving out what would reach production: `[ha]` (its Lease
    /// would let the drill lead, or stop the production leader; its bucket would take the
    /// drill's segments) and the evidence store unless it is S3 with a stand-in `endpoint`
    /// (captures of a simulated cluster would land beside real evidence, in a bucket under
    /// Object Lock or the production folder): the drill's evidence goes beside its own
    /// ledger instead. One line per part left out, for the operator. Nothing changes for a
    /// plan written as a drill (`drill = true`): its author chose its stores.
    pub fn confine_to_drill(&mut self) -> Vec<String> {
        let mut left_out = Vec::new();
        if self.is_drill() {
            return left_out;
        }
        self.meta.drill = true;
        if let Some(ha) = self.ha.take() {
            left_out.push(format!(
                "[ha] is not used by a drill: it would take part in the Lease of the plan's servers and copy the drill's ledger to {}",
                ha.bucket
            ));
        }
        match &self.storage.evidence {
            None => {}
            Some(EvidenceStore::S3 {
                endpoint: Some(e), ..
            }) if on_this_machine(e) => {}
            Some(store) => {
                left_out.push(format!(
                    "[storage.evidence] {} is not used by a drill: its evidence stays beside the drill's ledger (an S3 store whose endpoint is on this machine, a stand-in such as moto, is used)",
                    store.describe()
                ));
                self.storage.evidence = None;
            }
        }
        left_out
    }
}

/// Whether an endpoint URL names this machine (`localhost` or a loopback address): a
/// stand-in, not a production store that happens to set an endpoint (MinIO, a VPC one).
fn on_this_machine(endpoint: &str) -> bool {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::super::Plan;
    use super::EvidenceStore;

    /// The example plan (written for production: `drill = false`) and `extra`.
    fn plan(extra: &str) -> Plan {
        let text = format!("{}\n{extra}", crate::builtin::EXAMPLE_PLAN);
        crate::load_str("plan.toml", &text).expect("a plan")
    }

    fn s3(bucket: &str, endpoint: Option<&str>) -> EvidenceStore {
        EvidenceStore::S3 {
            bucket: bucket.into(),
            region: "eu-central-1".into(),
            prefix: String::new(),
            kms_key_id: None,
            endpoint: endpoint.map(str::to_owned),
            object_lock: None,
        }
    }

    #[test]
    fn a_production_plan_drilled_keeps_off_its_lease_copy_and_evidence_bucket() {
        let mut p = plan(
            "[ha]\nbucket = \"s3://prod-ledger/warroom/\"\nregion = \"eu-central-1\"\nlease = { namespace = \"warroom\", name = \"warroom\" }\n",
        );
        assert!(!p.is_drill() && p.ha.is_some());
        p.storage.evidence = Some(s3("prod-evidence", None));
        let said = p.confine_to_drill();
        assert!(p.is_drill());
        assert!(p.ha.is_none());
        assert!(p.storage.evidence.is_none());
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("s3://prod-ledger/warroom/"), "{said:?}");
        assert!(said[1].contains("s3://prod-evidence/"), "{said:?}");
        // The production plan's own evidence folder is not used either.
        let mut p = plan("");
        assert!(matches!(
            p.storage.evidence,
            Some(EvidenceStore::Local { .. })
        ));
        let said = p.confine_to_drill();
        assert!(p.storage.evidence.is_none());
        assert!(
            said[0].contains("local ./warroom-data/evidence"),
            "{said:?}"
        );
    }

    #[test]
    fn only_an_endpoint_on_this_machine_is_a_stand_in() {
        for yes in [
            "http://127.0.0.1:5000",
            "http://localhost:9000/",
            "http://[::1]:5000",
        ] {
            assert!(super::on_this_machine(yes), "{yes}");
        }
        for no in [
            "https://minio.internal:9000",
            "https://s3.eu-central-1.amazonaws.com",
            "http://10.0.0.5:9000",
            "http://127.0.0.1.evil.example",
        ] {
            assert!(!super::on_this_machine(no), "{no}");
        }
        let mut p = plan("");
        p.storage.evidence = Some(s3("prod-evidence", Some("https://minio.internal:9000")));
        assert_eq!(p.confine_to_drill().len(), 1);
        assert!(p.storage.evidence.is_none());
    }

    #[test]
    fn a_stand_in_evidence_store_and_a_plan_written_as_a_drill_are_kept() {
        let mut p = plan("");
        let stand_in = s3("drill-evidence", Some("http://127.0.0.1:5000"));
        p.storage.evidence = Some(stand_in.clone());
        assert!(p.confine_to_drill().is_empty());
        assert_eq!(p.storage.evidence, Some(stand_in));
        // Written as a drill: untouched, [ha] included.
        let mut d = plan(
            "[ha]\nbucket = \"s3://drill-ledger/\"\nregion = \"eu-central-1\"\nendpoint = \"http://127.0.0.1:5000\"\n",
        );
        d.meta.drill = true;
        assert!(d.confine_to_drill().is_empty());
        assert!(d.ha.is_some());
    }
}
