"""DynamoDB resource kinds: the users table."""
from __future__ import annotations

from localcloud.kinds import DeployError, Kind, found, tags_of

class Table(Kind):
    replace_on = ("name", "hashKey", "rangeKey", "attributes")

    def create(self, cloud, name, i):
        ddb = cloud.client("dynamodb")
        keys = [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
        if i.get("rangeKey"):
            keys.append({"AttributeName": i["rangeKey"], "KeyType": "RANGE"})
        table = ddb.create_table(
            TableName=i["name"], KeySchema=keys,
            AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]}
                                  for a in i["attributes"]],
            BillingMode=i.get("billingMode") or "PAY_PER_REQUEST",
            DeletionProtectionEnabled=bool(i.get("deletionProtectionEnabled")),
            Tags=[{"Key": k, "Value": v} for k, v in tags_of(i).items()],
        )["TableDescription"]
        self._point_in_time_recovery(cloud, i)
        return i["name"], {"arn": table["TableArn"]}

    def update(self, cloud, id_, old, i):
        ddb = cloud.client("dynamodb")
        ddb.update_table(TableName=id_,
                         DeletionProtectionEnabled=bool(i.get("deletionProtectionEnabled")))
        self._point_in_time_recovery(cloud, i)
        return {"arn": ddb.describe_table(TableName=id_)["Table"]["TableArn"]}

    def exists(self, cloud, id_, i):
        return found(lambda: cloud.client("dynamodb").describe_table(TableName=id_),
                     "ResourceNotFoundException")

    def delete(self, cloud, id_, i):
        ddb = cloud.client("dynamodb")
        if ddb.describe_table(TableName=id_)["Table"].get("DeletionProtectionEnabled"):
            raise DeployError(f"table {id_} has deletion protection; turn it off "
                              "(deletionProtection: false) and deploy before deleting it")
        ddb.delete_table(TableName=id_)

    @staticmethod
    def _point_in_time_recovery(cloud, i):
        enabled = bool((i.get("pointInTimeRecovery") or {}).get("enabled"))
        cloud.client("dynamodb").update_continuous_backups(
            TableName=i["name"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled})
