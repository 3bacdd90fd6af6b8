"""AWS state in a running moto server, through boto3, for the AWS scenarios.

usage: moto_aws.py ENDPOINT COMMAND [ARGS]
  node ZONE [--spot] [--group NAME]   an instance like an EKS worker node (root and data
                                      volume), optionally in an Auto Scaling group; prints JSON
  state INSTANCE                      its protection, group protection and snapshots; prints JSON
  role NAME [--profile PROFILE]       an IAM role (in an instance profile); prints JSON
  role-policy ROLE NAME               the role's inline policy NAME, or null; prints JSON
  put-policy ROLE NAME JSON           give the role the inline policy NAME; prints JSON
  eks-cluster NAME                    an EKS cluster; prints JSON
  pod-identity CLUSTER NS SA ROLE     an EKS Pod Identity association; prints JSON
  bucket NAME                         a bucket with Object Lock enabled; prints JSON
  object BUCKET KEY [VERSION]         an object's retention, checksum and size; prints JSON
  tamper BUCKET KEY                   a new version of the object with its last byte changed
  termination-protection INSTANCE     turn DisableApiTermination on, as an instance's owners may
  last BUCKET PREFIX                  the last key under PREFIX and its bytes (hex); JSON
  put BUCKET KEY HEX                  store the bytes under KEY, as another writer would
"""
import json
import sys

import boto3

endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]


def client(service, region="eu-central-1"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


ec2, asg, iam, s3, eks = (client("ec2"), client("autoscaling"), client("iam"), client("s3"),
                          client("eks"))

if command == "node":
    zone = args[0]
    spot = "--spot" in args
    group = args[args.index("--group") + 1] if "--group" in args else None
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    extra = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
    if "--profile" in args:
        extra["IamInstanceProfile"] = {"Name": args[args.index("--profile") + 1]}
    made = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="m6i.large",
        Placement={"AvailabilityZone": zone},
        BlockDeviceMappings=[{"DeviceName": "/dev/xvdb", "Ebs": {"VolumeSize": 100}}],
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "team", "Value": "payments"}]}],
        **extra)["Instances"][0]
    instance = made["InstanceId"]
    if group:
        asg.create_launch_configuration(LaunchConfigurationName=group + "-lc", ImageId=image,
                                        InstanceType="m6i.large")
        asg.create_auto_scaling_group(AutoScalingGroupName=group,
                                      LaunchConfigurationName=group + "-lc", MinSize=0,
                                      MaxSize=3, DesiredCapacity=0, AvailabilityZones=[zone])
        asg.attach_instances(InstanceIds=[instance], AutoScalingGroupName=group)
    volumes = [m["Ebs"]["VolumeId"] for m in made.get("BlockDeviceMappings", [])]
    print(json.dumps({"instance": instance, "volumes": volumes}))
elif command == "state":
    instance = args[0]
    attr = lambda name, key: ec2.describe_instance_attribute(
        InstanceId=instance, Attribute=name)[key]["Value"]
    groups = asg.describe_auto_scaling_instances(InstanceIds=[instance])["AutoScalingInstances"]
    snaps = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    locks = {s["SnapshotId"]: s for s in ec2.describe_locked_snapshots()["Snapshots"]}
    print(json.dumps({
        "disable_api_termination": attr("disableApiTermination", "DisableApiTermination"),
        "disable_api_stop": attr("disableApiStop", "DisableApiStop"),
        "protected_from_scale_in": groups[0]["ProtectedFromScaleIn"] if groups else None,
        "snapshots": [{"id": s["SnapshotId"], "volume": s["VolumeId"], "state": s["State"],
                       "tags": {t["Key"]: t["Value"] for t in s.get("Tags", [])},
                       "lock": locks.get(s["SnapshotId"])}
                      for s in snaps],
    }, default=str))
elif command == "role":
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=args[0], AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    if "--profile" in args:
        profile = args[args.index("--profile") + 1]
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=args[0])
    print(json.dumps({"arn": role["Arn"]}))
elif command == "role-policy":
    try:
        doc = iam.get_role_policy(RoleName=args[0], PolicyName=args[1])["PolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        doc = None
    print(json.dumps(doc if not isinstance(doc, str) else json.loads(doc)))
elif command == "put-policy":
    iam.put_role_policy(RoleName=args[0], PolicyName=args[1], PolicyDocument=args[2])
    print(json.dumps({"role": args[0], "policy": args[1]}))
elif command == "eks-cluster":
    made = eks.create_cluster(name=args[0], roleArn="arn:aws:iam::123456789012:role/eks",
                              resourcesVpcConfig={})
    print(json.dumps({"cluster": made["cluster"]["name"]}))
elif command == "pod-identity":
    made = eks.create_pod_identity_association(clusterName=args[0], namespace=args[1],
                                               serviceAccount=args[2], roleArn=args[3])
    print(json.dumps({"association": made["association"]["associationId"]}))
elif command == "bucket":
    s3.create_bucket(Bucket=args[0], ObjectLockEnabledForBucket=True,
                     CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    print(json.dumps({"bucket": args[0]}))
elif command == "object":
    extra = {"VersionId": args[2]} if len(args) > 2 and args[2] else {}
    head = s3.head_object(Bucket=args[0], Key=args[1], ChecksumMode="ENABLED", **extra)
    print(json.dumps({
        "size": head["ContentLength"], "version": head.get("VersionId"),
        "lock_mode": head.get("ObjectLockMode"), "retain_until": head.get("ObjectLockRetainUntilDate"),
        "checksum_sha256": head.get("ChecksumSHA256"), "metadata": head.get("Metadata", {}),
    }, default=str))
elif command == "tamper":
    body = bytearray(s3.get_object(Bucket=args[0], Key=args[1])["Body"].read())
    body[-1] ^= 0x01
    s3.put_object(Bucket=args[0], Key=args[1], Body=bytes(body))
    print(json.dumps({"key": args[1], "bytes": len(body)}))
elif command == "termination-protection":
    ec2.modify_instance_attribute(InstanceId=args[0], DisableApiTermination={"Value": True})
    print(json.dumps({"instance": args[0]}))
elif command == "last":
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=args[0], Prefix=args[1]) for o in page.get("Contents", [])]
    last = sorted(keys)[-1]
    body = s3.get_object(Bucket=args[0], Key=last)["Body"].read()
    print(json.dumps({"key": last, "bytes": body.hex()}))
elif command == "put":
    s3.put_object(Bucket=args[0], Key=args[1], Body=bytes.fromhex(args[2]))
    print(json.dumps({"key": args[1]}))
else:
    sys.exit(__doc__)
