"""Published version numbers as Lambda gives them: from a counter of the function's own,
so a number is never given twice, even after the version that had it was deleted.

moto numbers a new version len(versions) + 1: once a version is deleted (promotion prunes
unused ones), the next publish repeats a number that a kept version still holds, two
versions answer to it, and an alias on it serves whichever moto finds first. This runs in
the process that runs moto's server (the local cloud's own), before anything publishes.
"""
from __future__ import annotations

_MARK = "_numbers_never_repeat"


def number_versions_as_lambda_does() -> None:
    """Make moto's publish number each function's versions from its highest number so
    far (idempotent)."""
    from moto.awslambda.models import LambdaStorage

    moto_publish = LambdaStorage.publish_version
    if getattr(moto_publish, _MARK, False):
        return

    def publish_version(self, name_or_arn: str, description: str = ""):
        name = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn).function_name
        before = list(self._functions.get(name, {}).get("versions", []))
        version = moto_publish(self, name_or_arn, description)
        if version is None or any(version is kept for kept in before):
            return version  # nothing changed since the last version: that one is returned
        highest = self.__dict__.setdefault("_highest_published", {})
        number = max([highest.get(name, 0), *(int(kept.version) for kept in before)]) + 1
        if int(version.version) != number:
            # moto filed the new version under its ARN with a number another version may
            # hold: give that ARN back to the kept version, and the new one its number.
            self._arns.pop(version.function_arn, None)
            for kept in before:
                if str(kept.version) == str(version.version):
                    self._arns[kept.function_arn] = kept
            version.set_version(number)
            self._arns[version.function_arn] = version
        highest[name] = number
        return version

    setattr(publish_version, _MARK, True)
    LambdaStorage.publish_version = publish_version
