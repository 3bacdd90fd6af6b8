"""moto server with the AWS calls warroom makes that moto 5.2 does not implement yet.

usage: moto_server.py -H HOST -p PORT

Each addition keeps its state in moto's own backends (or beside them, per account and
region) and answers in AWS's documented shapes: moto serializes every answer from botocore's
service model, exactly as it does for the calls it implements.

- EC2 `LockSnapshot` (EBS snapshot lock): the lock is kept on moto's snapshot; a snapshot
  locked in compliance mode cannot be deleted (DeleteSnapshot answers SnapshotLocked).
- IAM `SimulatePrincipalPolicy`: evaluates the role's own inline and attached policies with
  moto's IAM policy evaluator (explicit deny wins, otherwise allowed when a statement allows,
  otherwise implicitDeny), as AWS does for identity policies.
- EKS Pod Identity associations (`CreatePodIdentityAssociation`,
  `ListPodIdentityAssociations`, `DescribePodIdentityAssociation`) of an existing moto cluster.
"""
import datetime
import sys
import uuid

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response
from moto.eks import urls as eks_urls
from moto.eks.responses import EKSResponse
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.responses import IamResponse
from moto.server import main


def now():
    return datetime.datetime.now(datetime.timezone.utc)


# --- EC2 LockSnapshot -------------------------------------------------------------------------

def lock_snapshot(self):
    snapshot_id = self._get_param("SnapshotId")
    mode = self._get_param("LockMode")
    days = self._get_int_param("LockDuration")
    cool_off = self._get_int_param("CoolOffPeriod")
    expires = self._get_param("ExpirationDate")
    self.error_on_dryrun()
    snapshot = self.ec2_backend.get_snapshot(snapshot_id)
    if mode not in ("governance", "compliance"):
        raise EC2ClientError("InvalidParameterValue", f"LockMode {mode!r} is not governance or compliance")
    if (days is None) == (expires is None):
        raise EC2ClientError("InvalidParameterCombination", "give exactly one of LockDuration and ExpirationDate")
    created = now()
    end = created + datetime.timedelta(days=days) if days is not None else datetime.datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    state = "compliance-cooloff" if mode == "compliance" and cool_off else mode
    snapshot.warroom_lock = {
        "SnapshotId": snapshot_id,
        "LockState": state,
        "LockDuration": days,
        "CoolOffPeriod": cool_off,
        "LockCreatedOn": created,
        "LockExpiresOn": end,
        "LockDurationStartTime": created,
    }
    return ActionResult(snapshot.warroom_lock)


def describe_locked_snapshots(self):
    ids = self._get_param("SnapshotIds", [])
    found = [s for s in self.ec2_backend.describe_snapshots(snapshot_ids=ids or None)
             if getattr(s, "warroom_lock", None)]
    return ActionResult({"Snapshots": [s.warroom_lock for s in found]})


EC2Response.lock_snapshot = lock_snapshot
EC2Response.describe_locked_snapshots = describe_locked_snapshots
_delete_snapshot = EC2Response.delete_snapshot


def delete_snapshot(self):
    snapshot = self.ec2_backend.get_snapshot(self._get_param("SnapshotId"))
    lock = getattr(snapshot, "warroom_lock", None)
    if lock and lock["LockState"] == "compliance" and lock["LockExpiresOn"] > now():
        raise EC2ClientError("SnapshotLocked", f"{snapshot.id} is locked in compliance mode")
    return _delete_snapshot(self)


EC2Response.delete_snapshot = delete_snapshot


# --- IAM SimulatePrincipalPolicy --------------------------------------------------------------

def simulate_principal_policy(self):
    source = self._get_param("PolicySourceArn")
    actions = self._get_param("ActionNames", [])
    resources = self._get_param("ResourceArns") or ["*"]
    role_name = source.split(":role/")[-1].split("/")[-1]
    role = self.backend.get_role(role_name)
    documents = [doc for _, doc in role.policies.items()]
    for policy in role.managed_policies.values():
        documents.append(policy)
    policies = [IAMPolicy(d) for d in documents]
    results = []
    for action in actions:
        for resource in resources:
            outcomes = [p.is_action_permitted(action, resource) for p in policies]
            if PermissionResult.DENIED in outcomes:
                decision = "explicitDeny"
            elif PermissionResult.PERMITTED in outcomes:
                decision = "allowed"
            else:
                decision = "implicitDeny"
            results.append({"EvalActionName": action, "EvalResourceName": resource,
                            "EvalDecision": decision, "MatchedStatements": [],
                            "MissingContextValues": []})
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


IamResponse.simulate_principal_policy = simulate_principal_policy


# --- EKS Pod Identity associations ------------------------------------------------------------

ASSOCIATIONS = {}  # (account, region, cluster) -> [association]


class NotFound(ServiceException):
    """EKS's ResourceNotFoundException, serialized from EKS's model (moto finds the model by
    the exception's module)."""
    code = "ResourceNotFoundException"


NotFound.__module__ = "moto.eks.exceptions"

eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$"] = eks_urls.response.dispatch
eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$"] = eks_urls.response.dispatch


def _associations(self, cluster):
    if cluster not in self.eks_backend.clusters:
        raise NotFound(f"No cluster found for name: {cluster}.")
    return ASSOCIATIONS.setdefault((self.current_account, self.region, cluster), [])


def create_pod_identity_association(self):
    cluster = self._get_param("name")
    found = _associations(self, cluster)
    ident = "a-" + uuid.uuid4().hex[:17]
    association = {
        "clusterName": cluster, "namespace": self._get_param("namespace"),
        "serviceAccount": self._get_param("serviceAccount"), "roleArn": self._get_param("roleArn"),
        "associationArn": f"arn:aws:eks:{self.region}:{self.current_account}:podidentityassociation/{cluster}/{ident}",
        "associationId": ident, "tags": self._get_param("tags") or {},
        "createdAt": now(), "modifiedAt": now(),
    }
    found.append(association)
    return ActionResult({"association": association})


def list_pod_identity_associations(self):
    namespace, account = self._get_param("namespace"), self._get_param("serviceAccount")
    found = [a for a in _associations(self, self._get_param("name"))
             if namespace in (None, a["namespace"]) and account in (None, a["serviceAccount"])]
    summary = [{k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}
               for a in found]
    return ActionResult({"associations": summary})


def describe_pod_identity_association(self):
    ident = self._get_param("associationId")
    for a in _associations(self, self._get_param("name")):
        if a["associationId"] == ident:
            return ActionResult({"association": a})
    raise NotFound(f"No association found for id: {ident}.")


EKSResponse.create_pod_identity_association = create_pod_identity_association
EKSResponse.list_pod_identity_associations = list_pod_identity_associations
EKSResponse.describe_pod_identity_association = describe_pod_identity_association


if __name__ == "__main__":
    main(sys.argv[1:])
