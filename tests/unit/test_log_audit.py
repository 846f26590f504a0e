import base64
import json
from pathlib import Path

from devkit.log_audit import audit
from devkit.signals import tone


def test_clean_json_logs_pass(tmp_path: Path) -> None:
    log = tmp_path / "ok.log"
    log.write_text(json.dumps({"msg": "published", "correlation_id": "c1", "audio_bytes": 32000})
                   + "\n%5|1795371036.736|REQTMOUT|rdkafka#producer-1| timed out\n")
    assert audit([log], ["aaa.bbb.signature123"]) == []


def test_audio_in_any_form_and_tokens_are_found(tmp_path: Path) -> None:
    pcm = tone(0.1)
    cases = {
        "raw.log": pcm,
        "b64.log": json.dumps({"msg": base64.b64encode(pcm).decode()}).encode(),
        "repr.log": repr(pcm[:200]).encode(),
        "token.log": b'{"msg": "auth", "authorization": "Bearer x.y.SIGNATUREabc"}',
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    findings = audit([tmp_path / n for n in cases], ["x.y.SIGNATUREabc"])
    for name in cases:
        assert any(f.startswith(name) for f in findings), name
