"""Stack files as the local cloud reads them: an edit is seen by the very next read (the
parsed text may be kept, the file never is)."""
from __future__ import annotations

import pytest

from localcloud.engine.stackfiles import StackFileError, project_name, read_stack_config

PROJECT_FILE = """name: shop
runtime: python
config:
  region:
    type: string
    default: eu-west-1
"""


@pytest.fixture()
def checkout(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_FILE)
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  shop:stage: dev\n")
    return tmp_path


def test_an_edited_stack_file_is_read_anew(checkout):
    assert read_stack_config("dev", checkout) == {"shop:region": "eu-west-1", "shop:stage": "dev"}
    (checkout / "Pulumi.dev.yaml").write_text("config:\n  shop:stage: qa\n  shop:region: us-east-2\n")
    assert read_stack_config("dev", checkout) == {"shop:region": "us-east-2", "shop:stage": "qa"}
    # and back to the first text: its parse may be reused, its values are the file's
    (checkout / "Pulumi.dev.yaml").write_text("config:\n  shop:stage: dev\n")
    assert read_stack_config("dev", checkout) == {"shop:region": "eu-west-1", "shop:stage": "dev"}


def test_an_edited_project_file_is_read_anew(checkout):
    assert project_name(checkout) == "shop"
    (checkout / "Pulumi.yaml").write_text(PROJECT_FILE.replace("shop", "store"))
    (checkout / "Pulumi.dev.yaml").write_text("config:\n  store:stage: dev\n")
    assert project_name(checkout) == "store"
    assert read_stack_config("dev", checkout) == {"store:region": "eu-west-1",
                                                  "store:stage": "dev"}


def test_a_stack_file_broken_by_an_edit_is_refused_naming_it(checkout):
    read_stack_config("dev", checkout)
    (checkout / "Pulumi.dev.yaml").write_text("config: [unclosed\n")
    with pytest.raises(StackFileError, match=r"cannot read Pulumi\.dev\.yaml"):
        read_stack_config("dev", checkout)
    (checkout / "Pulumi.dev.yaml").write_text("- a list\n")
    with pytest.raises(StackFileError, match=r"Pulumi\.dev\.yaml must be a YAML mapping"):
        read_stack_config("dev", checkout)

