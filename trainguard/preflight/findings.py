"""What the pre-flight finds in a profile that is not fatal: findings DataGuard's report carries."""
from typing import List

from trainguard.components.data_guard.findings import Finding
from trainguard.policy import Policy
from trainguard.preflight.profile import SAMPLES, CsvProfile



def profile_findings(profile: CsvProfile, policy: Policy) -> List[Finding]:
  """The profile's findings under `policy` (which decides what counts as ID-like)."""
  findings = []
  for column in profile.columns:
    if column.all_missing:
      findings.append(Finding(
          kind="ALL_VALUES_MISSING", feature=column.name, split="input", severity="warn",
          expected="at least one value", found=f"no value in any of {profile.rows} rows",
          fix="the column is left out of the model; drop it from the file or fill it.",
          source="preflight", measured=1.0))
    elif column.is_numeric and column.non_numeric:
      samples = ", ".join(f"line {r}: {v!r}" for r, v in column.non_numeric_samples)
      findings.append(Finding(
          kind="NUMERIC_COLUMN_WITH_TEXT", feature=column.name, split="input", severity="block",
          expected="numbers (the column is " f"{column.numeric / column.present:.0%} numeric)",
          found=f"{column.non_numeric} value(s) that are not numbers ({samples})",
          fix="fix or blank those cells (empty cells are imputed), or declare them missing with "
              "--na-values.",
          source="preflight", measured=column.non_numeric / column.present))
    elif column.is_numeric and column.non_finite:
      samples = ", ".join(f"line {r}: {v!r}" for r, v in column.non_finite_samples)
      findings.append(Finding(
          kind="INFINITE_VALUES", feature=column.name, split="input", severity="block",
          expected="finite numbers", found=f"{column.non_finite} infinite value(s) ({samples})",
          fix="an infinity is usually a division by zero upstream: fix it at the source or blank "
              "those cells (empty cells are imputed); to impute them as missing instead, add "
              "INFINITE_VALUES to findings.warn in policy.yaml.",
          source="preflight", measured=column.non_finite / column.present))
    elif column.name != profile.label and (column.is_constant or column.is_id_like(policy)):
      kind = "CONSTANT_COLUMN" if column.is_constant else "ID_LIKE_COLUMN"
      found = (f"the single value {next(iter(column.values))!r} in every row" if column.is_constant
               else f"values that (nearly) never repeat in {column.present} rows")
      findings.append(Finding(
          kind=kind, feature=column.name, split="input", severity="warn",
          expected="a feature that varies and repeats", found=found,
          fix=f"left out of the model; set features.{column.name}.exclude: false in policy.yaml "
              "to keep it.", source="preflight"))
  if profile.label_missing_rows:
    # The policy's severity, as DataGuard's from the statistics (validation._missing_label): before,
    # a hard-coded warn ignored `findings.info: [LABEL_MISSING_ROWS_DROPPED]` until DataGuard ran.
    findings.append(Finding(
        kind="LABEL_MISSING_ROWS_DROPPED", feature=profile.label, split="input",
        severity=policy.severity("LABEL_MISSING_ROWS_DROPPED", profile.label),
        expected="a label on every row",
        found=f"{len(profile.label_missing_rows)} row(s) without one (lines "
              f"{lines_text(profile.label_missing_rows)})",
        fix="these rows were dropped; fill the label at the source to use them.",
        source="preflight",
        measured=len(profile.label_missing_rows) / (profile.rows + len(profile.label_missing_rows))))
  return findings


def lines_text(lines: List[int]) -> str:
  shown = ", ".join(str(n) for n in lines[:SAMPLES])
  return shown + (f" and {len(lines) - SAMPLES} more" if len(lines) > SAMPLES else "")
