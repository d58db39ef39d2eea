"""Route 53 record sets, as the AWS provider manages them (terraform-provider-aws
internal/service/route53/record.go): the record's fqdn is its name in lower case, without
the final dot, with the zone's name appended unless it already ends with it; a record
that is not allowed to overwrite is created with CREATE, which Route 53 refuses when the
record exists; one that is (allow_overwrite) is written with UPSERT."""
from __future__ import annotations

from botocore.exceptions import ClientError

from localcloud.kinds import DeployError, Kind, error_code


def fqdn(name: str, zone_name: str) -> str:
    """The provider's fqdn of a record `name` in the zone `zone_name`."""
    record, zone = name.rstrip(".").lower(), zone_name.rstrip(".").lower()
    if not record:
        return zone
    return record if record.endswith(zone) else f"{record}.{zone}"


def record_set(i: dict, name: str) -> dict:
    """The ResourceRecordSet of a record's inputs: an alias, or a TTL and values."""
    record = {"Name": name, "Type": i["type"]}
    aliases = i.get("aliases") or []
    if aliases:
        alias = aliases[0]
        record["AliasTarget"] = {"HostedZoneId": alias["zoneId"], "DNSName": alias["name"],
                                 "EvaluateTargetHealth": bool(alias.get("evaluateTargetHealth"))}
    else:
        record["TTL"] = int(i.get("ttl") or 0)
        record["ResourceRecords"] = [{"Value": value} for value in i.get("records") or []]
    return record


class Record(Kind):
    replace_on = ("zoneId", "name", "type")

    def _zone_name(self, cloud, zone_id: str) -> str:
        route53 = cloud.client("route53")
        try:
            return route53.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"]
        except route53.exceptions.NoSuchHostedZone:
            raise DeployError(f"route53.Record: NoSuchHostedZone: No hosted zone found with "
                              f"ID: {zone_id}; set user-service:hostedZoneId to the id of the "
                              "domain's hosted zone") from None

    def _existing(self, cloud, zone_id: str, name: str, type_: str) -> dict | None:
        listed = cloud.client("route53").list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=name, StartRecordType=type_, MaxItems="1")
        for found in listed["ResourceRecordSets"]:
            if found["Name"].rstrip(".").lower() == name and found["Type"] == type_:
                return found
        return None

    def create(self, cloud, name, i):
        record_name = fqdn(i["name"], self._zone_name(cloud, i["zoneId"]))
        if not i.get("allowOverwrite") and self._existing(cloud, i["zoneId"], record_name,
                                                           i["type"]):
            raise DeployError(
                f"route53.Record: InvalidChangeBatch: [Tried to create resource record set "
                f"[name='{record_name}.', type='{i['type']}'] but it already exists]; remove "
                "it from the zone, or import it into this stack")
        self._change(cloud, i, "UPSERT" if i.get("allowOverwrite") else "CREATE", record_name)
        return f"{i['zoneId']}_{i['name']}_{i['type']}", {"fqdn": record_name,
                                                           "name": i["name"]}

    def update(self, cloud, id_, old, i):
        record_name = fqdn(i["name"], self._zone_name(cloud, i["zoneId"]))
        self._change(cloud, i, "UPSERT", record_name)
        return {"fqdn": record_name, "name": i["name"]}

    def delete(self, cloud, id_, i):
        record_name = fqdn(i["name"], self._zone_name(cloud, i["zoneId"]))
        current = self._existing(cloud, i["zoneId"], record_name, i["type"])
        if current is None:
            return  # gone already, as the provider treats it
        cloud.client("route53").change_resource_record_sets(
            HostedZoneId=i["zoneId"],
            ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": current}]})

    @staticmethod
    def _change(cloud, i: dict, action: str, record_name: str) -> None:
        route53 = cloud.client("route53")
        try:
            route53.change_resource_record_sets(HostedZoneId=i["zoneId"], ChangeBatch={
                "Changes": [{"Action": action, "ResourceRecordSet": record_set(i, record_name)}]})
        except ClientError as err:
            raise DeployError(f"route53.Record {record_name}: {error_code(err)}: "
                              f"{err.response['Error'].get('Message', '')}") from None
