"""The triggers that make a table append-only for everyone but its owner dropping them:
`careledger.refuse_change()` (schema.py) on UPDATE and DELETE, and on TRUNCATE. Written
once for every table that keeps a record (the log, the access log, checkpoints, consent
decisions, documents, certificates); repeatable DDL, run on every migrate."""

from __future__ import annotations


def append_only(table: str, *, truncate: bool = True) -> str:
    """The DDL that guards `careledger.<table>` (and, with `truncate`, from TRUNCATE)."""
    ddl = (f"DROP TRIGGER IF EXISTS append_only ON careledger.{table};\n"
           f"CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON careledger.{table}\n"
           f"  FOR EACH ROW EXECUTE FUNCTION careledger.refuse_change();\n")
    if truncate:
        ddl += (f"DROP TRIGGER IF EXISTS append_only_truncate ON careledger.{table};\n"
                f"CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON careledger.{table}\n"
                f"  FOR EACH STATEMENT EXECUTE FUNCTION careledger.refuse_change();\n")
    return ddl
