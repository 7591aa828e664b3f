"""`schema init` proposes, commented out, the policy entries the data's findings call for."""
import yaml

from trainguard import cli, preflight, schema_folder
from trainguard.policy import POLICY_FILE, Policy, defaults
from trainguard import policy_proposals as proposed_fixes


def _csv(tmp_path, clean=False):
  rows = ["when,island,sex,n,species"]
  for i in range(60):
    island = ["Biscoe", "Dream", "Torgersen"][i % 3] if clean else (
        ["Biscoe", "biscoe", "Dream", "BISCOE", "Torgersen"][i % 5])
    sex = ["male", "female"][i % 2] if clean else ["male", "female", "unknown"][i % 3]
    species = ["Adelie", "Gentoo", "Chinstrap"][i % 3] if clean else (
        ["Adelie", "adelie", "Gentoo", "Chinstrap"][i % 4])
    when = f"w{i % 7}" if clean else f"03/{i % 18 + 13:02d}/2021"
    rows.append(f"{when},{island},{sex},{i % 9},{species}")
  path = tmp_path / "data.csv"
  path.write_text("\n".join(rows) + "\n")
  return str(path)


def _uncommented(text):
  return "\n".join(line.replace("  # ", "  ", 1) if line.startswith("  # ") and "Proposed" not in
                   line else line for line in text.splitlines())


def test_each_fix_is_proposed_as_its_finding_names_it(tmp_path):
  found = proposed_fixes.proposals(preflight.inspect(_csv(tmp_path), "species"))
  assert [(p.section, p.feature, p.entry) for p in found] == [
      ("features", "when", {"datetime": "parts_month_first"}),  # 03/13/2021: month first
      ("features", "island", {"normalize": True}),
      ("features", "sex", {"missing_values": ["unknown"]}),
      ("label", "species", {"label.map": {"adelie": "Adelie"}}),
  ]
  assert found[1].reason == ("CATEGORY_VARIANTS: 1 group(s) of spellings: 'BISCOE' (12) / "
                             "'Biscoe' (12) / 'biscoe' (12)")


def test_schema_init_writes_them_commented_out_and_each_line_is_valid_uncommented(tmp_path):
  folder = tmp_path / "schema"
  assert cli.main(["schema", "init", _csv(tmp_path), "--label", "species", "--out",
                   str(folder)]) == 0
  text = (folder / POLICY_FILE).read_text()
  assert '  # island: {"normalize": true}  # CATEGORY_VARIANTS: ' in text
  assert '  # map: {"adelie": "Adelie"}  # CATEGORY_VARIANTS: ' in text
  schema = schema_folder.read_schema(schema_folder.schema_path(str(folder)))
  as_written = Policy.load(str(folder), schema)
  assert as_written.data["features"] == {} and as_written.label_map == {}  # nothing changes yet
  accepted = Policy.from_dict(yaml.safe_load(_uncommented(text)), schema=schema)
  assert accepted.data["features"] == {"when": {"datetime": "parts_month_first"},
                                       "island": {"normalize": True},
                                       "sex": {"missing_values": ["unknown"]}}
  assert accepted.label_map == {"adelie": "Adelie"}
  assert accepted.label_classes(["Adelie", "Chinstrap", "Gentoo", "adelie"]) == [
      "Adelie", "Chinstrap", "Gentoo"]


def test_clean_data_gets_the_plain_default_policy(tmp_path):
  profile = preflight.inspect(_csv(tmp_path, clean=True), "species")
  assert proposed_fixes.proposals(profile) == []
  assert proposed_fixes.policy_text(defaults(), [], "# h\n") == "# h\n" + yaml.safe_dump(
      defaults(), sort_keys=False)
