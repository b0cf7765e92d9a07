"""Catalog cases: regional services beyond EC2, and the global ones (see cases_network.py for the pattern)."""

from __future__ import annotations

import json

from tests.discovery.aws.helpers import ACCOUNT, Expect, case, client, tag_list

TAGS = {"team": "apps", "env": "test"}
ASSUME_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _role(name: str = "service-role") -> str:
    return client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=ASSUME_EC2)["Role"]["Arn"]


def _subnets() -> list[str]:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{n}.0/24", AvailabilityZone=f"us-east-1{z}")
            ["Subnet"]["SubnetId"] for n, z in ((1, "a"), (2, "b"))]


# --- storage, queues, streams -----------------------------------------------------------------------------


@case("aws_s3_bucket")
def _() -> list[Expect]:
    s3 = client("s3")
    s3.create_bucket(Bucket="logs-archive-1")
    s3.put_bucket_tagging(Bucket="logs-archive-1", Tagging={"TagSet": tag_list(TAGS)})
    return [Expect("logs-archive-1", "logs-archive-1", TAGS)]


@case("aws_efs_file_system")
def _() -> list[Expect]:
    answer = client("efs").create_file_system(CreationToken="fs-1", Tags=tag_list({"Name": "shared", **TAGS}))
    return [Expect(answer["FileSystemId"], "shared", {"Name": "shared", **TAGS})]


@case("aws_efs_access_point")
def _() -> list[Expect]:
    efs = client("efs")
    fs = efs.create_file_system(CreationToken="fs-2")["FileSystemId"]
    answer = efs.create_access_point(ClientToken="ap-1", FileSystemId=fs, Tags=tag_list({"Name": "app", **TAGS}))
    return [Expect(answer["AccessPointId"], "app", {"Name": "app", **TAGS})]


@case("aws_sqs_queue")
def _() -> list[Expect]:
    url = client("sqs").create_queue(QueueName="jobs", tags=TAGS)["QueueUrl"]
    return [Expect(url, "jobs", TAGS)]


@case("aws_sns_topic")
def _() -> list[Expect]:
    arn = client("sns").create_topic(Name="alerts", Tags=tag_list(TAGS))["TopicArn"]
    return [Expect(arn, "alerts", TAGS)]


@case("aws_sns_topic_subscription")
def _() -> list[Expect]:
    sns = client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    queue = client("sqs").create_queue(QueueName="orders-q")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"],
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
    return [Expect(subscription, "orders", {})]


@case("aws_dynamodb_table")
def _() -> list[Expect]:
    client("dynamodb").create_table(
        TableName="sessions", BillingMode="PAY_PER_REQUEST", Tags=tag_list(TAGS),
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    return [Expect("sessions", "sessions", TAGS)]


@case("aws_kinesis_stream")
def _() -> list[Expect]:
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    kinesis.add_tags_to_stream(StreamName="clicks", Tags=TAGS)  # moto drops CreateStream's Tags
    arn = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    return [Expect(arn, "clicks", TAGS)]


@case("aws_kinesis_firehose_delivery_stream")
def _() -> list[Expect]:
    client("s3").create_bucket(Bucket="firehose-sink")
    arn = client("firehose").create_delivery_stream(
        DeliveryStreamName="to-s3", Tags=tag_list(TAGS),
        ExtendedS3DestinationConfiguration={"RoleARN": _role(), "BucketARN": "arn:aws:s3:::firehose-sink"},
    )["DeliveryStreamARN"]
    return [Expect(arn, "to-s3", TAGS)]


@case("aws_redshift_cluster")
def _() -> list[Expect]:
    client("redshift").create_cluster(
        ClusterIdentifier="warehouse", NodeType="dc2.large", MasterUsername="admin",
        MasterUserPassword="Password123", ClusterType="single-node", Tags=tag_list(TAGS))
    return [Expect("warehouse", "warehouse", TAGS)]


@case("aws_msk_cluster")
def _() -> list[Expect]:
    arn = client("kafka").create_cluster(
        ClusterName="events", KafkaVersion="3.6.0", NumberOfBrokerNodes=2, Tags=TAGS,
        BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": _subnets()},
    )["ClusterArn"]
    return [Expect(arn, "events", TAGS)]


@case("aws_opensearch_domain")
def _() -> list[Expect]:
    arn = client("opensearch").create_domain(DomainName="search", TagList=tag_list(TAGS))["DomainStatus"]["ARN"]
    return [Expect(arn, "search", TAGS)]


# --- databases and caches ---------------------------------------------------------------------------------


@case("aws_db_instance")
def _() -> list[Expect]:
    instance = client("rds").create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="Password123", Tags=tag_list(TAGS))["DBInstance"]
    return [Expect(instance["DbiResourceId"], "orders-db", TAGS)]


@case("aws_rds_cluster")
def _() -> list[Expect]:
    client("rds").create_db_cluster(
        DBClusterIdentifier="aurora-1", Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword="Password123", Tags=tag_list(TAGS))
    return [Expect("aurora-1", "aurora-1", TAGS)]


@case("aws_db_subnet_group")
def _() -> list[Expect]:
    client("rds").create_db_subnet_group(DBSubnetGroupName="db-subnets", DBSubnetGroupDescription="db",
                                         SubnetIds=_subnets(), Tags=tag_list(TAGS))
    return [Expect("db-subnets", "db-subnets", TAGS)]


@case("aws_db_parameter_group")
def _() -> list[Expect]:
    client("rds").create_db_parameter_group(DBParameterGroupName="pg16-tuned", DBParameterGroupFamily="postgres16",
                                            Description="tuned", Tags=tag_list(TAGS))
    return [Expect("pg16-tuned", "pg16-tuned", TAGS)]


@case("aws_rds_cluster_parameter_group")
def _() -> list[Expect]:
    client("rds").create_db_cluster_parameter_group(
        DBClusterParameterGroupName="aurora-tuned", DBParameterGroupFamily="aurora-postgresql16",
        Description="tuned", Tags=tag_list(TAGS))
    return [Expect("aurora-tuned", "aurora-tuned", TAGS)]


@case("aws_db_snapshot")
def _() -> list[Expect]:
    rds = client("rds")
    rds.create_db_instance(DBInstanceIdentifier="snap-src", DBInstanceClass="db.t3.micro", Engine="postgres",
                           AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="Password123")
    rds.create_db_snapshot(DBSnapshotIdentifier="before-upgrade", DBInstanceIdentifier="snap-src",
                           Tags=tag_list(TAGS))
    return [Expect("before-upgrade", "before-upgrade", TAGS)]


@case("aws_elasticache_cluster")
def _() -> list[Expect]:
    client("elasticache").create_cache_cluster(CacheClusterId="cache-1", Engine="redis", NumCacheNodes=1,
                                               CacheNodeType="cache.t3.micro", Tags=tag_list(TAGS))
    return [Expect("cache-1", "cache-1", TAGS)]


@case("aws_elasticache_replication_group")
def _() -> list[Expect]:
    client("elasticache").create_replication_group(
        ReplicationGroupId="redis-ha", ReplicationGroupDescription="ha", Engine="redis",
        CacheNodeType="cache.t3.micro", NumCacheClusters=2, Tags=tag_list(TAGS))
    return [Expect("redis-ha", "redis-ha", TAGS)]


@case("aws_elasticache_subnet_group")
def _() -> list[Expect]:
    client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName="cache-subnets", CacheSubnetGroupDescription="cache", SubnetIds=_subnets(),
        Tags=tag_list(TAGS))
    return [Expect("cache-subnets", "cache-subnets", TAGS)]


# --- containers and functions -----------------------------------------------------------------------------


def _function(name: str = "worker", tags: dict[str, str] | None = None) -> str:
    return client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=_role("lambda-role"), Handler="main.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18}, Tags=tags or {})["FunctionArn"]


@case("aws_lambda_function")
def _() -> list[Expect]:
    _function("worker", TAGS)
    return [Expect("worker", "worker", TAGS)]


@case("aws_lambda_event_source_mapping")
def _() -> list[Expect]:
    queue = client("sqs").create_queue(QueueName="work")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    mapping = client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn["Attributes"]["QueueArn"], FunctionName=_function("consumer"))
    return [Expect(mapping["UUID"], "work -> consumer", {})]


@case("aws_ecs_cluster")
def _() -> list[Expect]:
    arn = client("ecs").create_cluster(clusterName="apps", tags=[{"key": k, "value": v} for k, v in TAGS.items()])
    return [Expect(arn["cluster"]["clusterArn"], "apps", TAGS)]


@case("aws_ecs_task_definition")
def _() -> list[Expect]:
    ecs = client("ecs")
    for image in ("nginx:1.26", "nginx:1.27"):  # two revisions: the family is one resource
        ecs.register_task_definition(family="web", tags=[{"key": k, "value": v} for k, v in TAGS.items()],
                                     containerDefinitions=[{"name": "web", "image": image, "memory": 128}])
    return [Expect("web", "web", TAGS)]


@case("aws_eks_cluster")
def _() -> list[Expect]:
    client("eks").create_cluster(name="platform", roleArn=_role("eks-role"), tags=TAGS,
                                 resourcesVpcConfig={"subnetIds": _subnets()})
    return [Expect("platform", "platform", TAGS)]


@case("aws_ecr_repository")
def _() -> list[Expect]:
    client("ecr").create_repository(repositoryName="team/api", tags=tag_list(TAGS))
    return [Expect("team/api", "team/api", TAGS)]


# --- monitoring, events, logs -----------------------------------------------------------------------------


@case("aws_cloudwatch_log_group")
def _() -> list[Expect]:
    client("logs").create_log_group(logGroupName="/app/web", tags=TAGS)
    return [Expect("/app/web", "/app/web", TAGS)]


@case("aws_cloudwatch_log_metric_filter")
def _() -> list[Expect]:
    logs = client("logs")
    logs.create_log_group(logGroupName="/app/api")
    logs.put_metric_filter(logGroupName="/app/api", filterName="errors", filterPattern="ERROR",
                           metricTransformations=[{"metricName": "Errors", "metricNamespace": "App",
                                                   "metricValue": "1"}])
    return [Expect("errors", "errors", {})]


def _metric_alarm(name: str, tags: dict[str, str] | None = None) -> None:
    client("cloudwatch").put_metric_alarm(
        AlarmName=name, MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=80.0, ComparisonOperator="GreaterThanThreshold", Tags=tag_list(tags or {}))


@case("aws_cloudwatch_metric_alarm")
def _() -> list[Expect]:
    _metric_alarm("cpu-high", TAGS)
    return [Expect("cpu-high", "cpu-high", TAGS)]


@case("aws_cloudwatch_dashboard")
def _() -> list[Expect]:
    client("cloudwatch").put_dashboard(DashboardName="overview", DashboardBody=json.dumps({"widgets": []}))
    return [Expect("overview", "overview", {})]


@case("aws_cloudwatch_event_bus")
def _() -> list[Expect]:
    client("events").create_event_bus(Name="orders-bus", Tags=tag_list(TAGS))
    return [Expect("orders-bus", "orders-bus", TAGS)]


@case("aws_cloudwatch_event_rule")
def _() -> list[Expect]:
    client("events").put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)", Tags=tag_list(TAGS))
    return [Expect("nightly", "nightly", TAGS)]


@case("aws_cloudtrail")
def _() -> list[Expect]:
    client("s3").create_bucket(Bucket="trail-logs")
    trail = client("cloudtrail").create_trail(Name="org-trail", S3BucketName="trail-logs", TagsList=tag_list(TAGS))
    return [Expect(trail["TrailARN"], "org-trail", TAGS)]


# --- configuration, secrets, keys -------------------------------------------------------------------------


@case("aws_ssm_parameter")
def _() -> list[Expect]:
    client("ssm").put_parameter(Name="/app/db/host", Value="db.internal", Type="String", Tags=tag_list(TAGS))
    return [Expect("/app/db/host", "/app/db/host", TAGS)]


@case("aws_ssm_document")
def _() -> list[Expect]:
    content = {"schemaVersion": "2.2", "description": "hello", "mainSteps": [
        {"action": "aws:runShellScript", "name": "hello", "inputs": {"runCommand": ["echo hello"]}}]}
    client("ssm").create_document(Name="say-hello", Content=json.dumps(content), DocumentType="Command",
                                  Tags=tag_list(TAGS))
    return [Expect("say-hello", "say-hello", TAGS)]


@case("aws_secretsmanager_secret")
def _() -> list[Expect]:
    arn = client("secretsmanager").create_secret(Name="db/password", SecretString="x", Tags=tag_list(TAGS))["ARN"]
    return [Expect(arn, "db/password", TAGS)]


@case("aws_kms_key")
def _() -> list[Expect]:
    key = client("kms").create_key(Description="app data", Tags=[{"TagKey": "team", "TagValue": "apps"}])
    return [Expect(key["KeyMetadata"]["KeyId"], "app data", {"team": "apps"})]


@case("aws_kms_alias")
def _() -> list[Expect]:
    kms = client("kms")
    kms.create_alias(AliasName="alias/app-data", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    return [Expect("alias/app-data", "alias/app-data", {})]


@case("aws_acm_certificate")
def _() -> list[Expect]:
    acm = client("acm")
    rsa = acm.request_certificate(DomainName="app.example.com", Tags=tag_list(TAGS))["CertificateArn"]
    ecdsa = acm.request_certificate(DomainName="api.example.com", KeyAlgorithm="EC_prime256v1")["CertificateArn"]
    return [Expect(rsa, "app.example.com", TAGS), Expect(ecdsa, "api.example.com", {})]


@case("aws_backup_vault")
def _() -> list[Expect]:
    client("backup").create_backup_vault(BackupVaultName="nightly-vault", BackupVaultTags=TAGS)
    return [Expect("nightly-vault", "nightly-vault", TAGS)]


@case("aws_backup_plan")
def _() -> list[Expect]:
    backup = client("backup")
    backup.create_backup_vault(BackupVaultName="plan-vault")
    plan = backup.create_backup_plan(
        BackupPlan={"BackupPlanName": "daily", "Rules": [
            {"RuleName": "daily", "TargetBackupVaultName": "plan-vault", "ScheduleExpression": "cron(0 5 * * ? *)"}]},
        BackupPlanTags=TAGS)
    return [Expect(plan["BackupPlanId"], "daily", TAGS)]


# --- application integration and APIs ---------------------------------------------------------------------


@case("aws_sfn_state_machine")
def _() -> list[Expect]:
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    arn = client("stepfunctions").create_state_machine(
        name="checkout", definition=definition, roleArn=_role("sfn-role"),
        tags=[{"key": k, "value": v} for k, v in TAGS.items()])["stateMachineArn"]
    return [Expect(arn, "checkout", TAGS)]


@case("aws_api_gateway_rest_api")
def _() -> list[Expect]:
    api = client("apigateway").create_rest_api(name="public-api", tags=TAGS)
    return [Expect(api["id"], "public-api", TAGS)]


@case("aws_apigatewayv2_api")
def _() -> list[Expect]:
    api = client("apigatewayv2").create_api(Name="http-api", ProtocolType="HTTP", Tags=TAGS)
    return [Expect(api["ApiId"], "http-api", TAGS)]


@case("aws_appsync_graphql_api")
def _() -> list[Expect]:
    api = client("appsync").create_graphql_api(name="graph", authenticationType="API_KEY", tags=TAGS)
    return [Expect(api["graphqlApi"]["apiId"], "graph", TAGS)]


@case("aws_cloudformation_stack")
def _() -> list[Expect]:
    template = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    stack = client("cloudformation").create_stack(StackName="network", TemplateBody=template, Tags=tag_list(TAGS))
    return [Expect(stack["StackId"], "network", TAGS)]


@case("aws_glue_catalog_database")
def _() -> list[Expect]:
    client("glue").create_database(DatabaseInput={"Name": "analytics"}, Tags=TAGS)
    return [Expect(f"{ACCOUNT}:analytics", "analytics", TAGS)]


@case("aws_glue_job")
def _() -> list[Expect]:
    client("glue").create_job(Name="etl", Role=_role("glue-role"), Tags=TAGS,
                              Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/etl.py"})
    return [Expect("etl", "etl", TAGS)]


@case("aws_cognito_user_pool")
def _() -> list[Expect]:
    pool = client("cognito-idp").create_user_pool(PoolName="customers", UserPoolTags=TAGS)["UserPool"]
    return [Expect(pool["Id"], "customers", TAGS)]


@case("aws_cognito_identity_pool")
def _() -> list[Expect]:
    pool = client("cognito-identity").create_identity_pool(
        IdentityPoolName="guests", AllowUnauthenticatedIdentities=True, IdentityPoolTags=TAGS)
    return [Expect(pool["IdentityPoolId"], "guests", TAGS)]


# --- IAM, DNS, CDN (global) -------------------------------------------------------------------------------


@case("aws_iam_role")
def _() -> list[Expect]:
    client("iam").create_role(RoleName="app-role", AssumeRolePolicyDocument=ASSUME_EC2, Tags=tag_list(TAGS))
    return [Expect("app-role", "app-role", TAGS)]


@case("aws_iam_user")
def _() -> list[Expect]:
    client("iam").create_user(UserName="ci-bot", Tags=tag_list(TAGS))
    return [Expect("ci-bot", "ci-bot", TAGS)]


@case("aws_iam_group")
def _() -> list[Expect]:
    client("iam").create_group(GroupName="developers")
    return [Expect("developers", "developers", {})]


@case("aws_iam_policy")
def _() -> list[Expect]:
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    arn = client("iam").create_policy(PolicyName="read-objects", PolicyDocument=document,
                                      Tags=tag_list(TAGS))["Policy"]["Arn"]
    return [Expect(arn, "read-objects", TAGS)]


@case("aws_iam_instance_profile")
def _() -> list[Expect]:
    client("iam").create_instance_profile(InstanceProfileName="web-profile", Tags=tag_list(TAGS))
    return [Expect("web-profile", "web-profile", TAGS)]


@case("aws_iam_openid_connect_provider")
def _() -> list[Expect]:
    arn = client("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40], Tags=tag_list(TAGS))["OpenIDConnectProviderArn"]
    return [Expect(arn, "token.actions.githubusercontent.com", TAGS)]


SAML_METADATA = (
    '<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    'entityID="https://idp.example.com"><md:IDPSSODescriptor '
    'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService '
    'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>'
    "</md:IDPSSODescriptor></md:EntityDescriptor>"
).replace("?>", "?><!--" + "padding to the API's 1,000-character minimum " * 25 + "-->", 1)


@case("aws_iam_saml_provider")
def _() -> list[Expect]:
    # untagged: moto's GetSAMLProvider leaves tags out (AWS's has them), so they cannot be proved here
    arn = client("iam").create_saml_provider(Name="corp-idp", SAMLMetadataDocument=SAML_METADATA)["SAMLProviderArn"]
    return [Expect(arn, "corp-idp", {})]


@case("aws_route53_zone")
def _() -> list[Expect]:
    route53 = client("route53")
    zone = route53.create_hosted_zone(Name="example.org", CallerReference="zone-1")["HostedZone"]
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id, AddTags=tag_list(TAGS))
    return [Expect(zone_id, "example.org.", TAGS)]


@case("aws_route53_health_check")
def _() -> list[Expect]:
    route53 = client("route53")
    check = route53.create_health_check(CallerReference="hc-1", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": "app.example.org", "Port": 443, "ResourcePath": "/health"})
    check_id = check["HealthCheck"]["Id"]
    route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id, AddTags=tag_list(TAGS))
    return [Expect(check_id, "app.example.org", TAGS)]


@case("aws_cloudfront_distribution")
def _() -> list[Expect]:
    config = {
        "CallerReference": "cdn-1", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "site.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False,
                                                                  "Cookies": {"Forward": "none"}}},
    }
    answer = client("cloudfront").create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tag_list(TAGS)}})
    distribution = answer["Distribution"]
    return [Expect(distribution["Id"], distribution["DomainName"], TAGS)]



