# The two commands a newcomer needs: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo console test lint bench faults pi pi-tools clean

demo: $(VENV)/.installed   # ASR=1 installs the recognizer first: each event's transcript is printed
	$(if $(ASR),$(VENV)/bin/pip install -q -e '.[asr]')
	$(PY) -m devkit.demo

console: $(VENV)/.installed   # the demo's broker and gateway, three agents on ALSA test mics, and edge-console, until Ctrl-C
	$(PY) -m devkit.console_demo

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check edge_gateway edge_console device_agent ingress_common devkit tests bench
	$(VENV)/bin/mypy edge_gateway edge_console device_agent ingress_common devkit
	$(VENV)/bin/lint-imports   # the layering contracts in pyproject.toml

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh

bench: $(VENV)/.installed   # about an hour: gateway scenarios and profile, agent footprint, send, receipts at fleet scale, 10-minute soak
	$(PY) -m bench.gateway_bench
	$(PY) -m bench.gateway_profile
	$(PY) -m bench.receive_floor
	$(PY) -m bench.worker_faults
	$(PY) -m bench.utterance_syscalls
	$(PY) -m bench.idle_cpu
	$(PY) -m bench.agent_footprint --seconds 60 --runs 3
	$(PY) -m bench.segmentation
	$(PY) -m bench.intelligibility
	$(PY) -m bench.asr
	$(PY) -m bench.receipt_memory --devices 1000 --per-device 100
	$(PY) -m bench.send_file --minutes 10 82 120 --runs 3
	$(PY) -m bench.receipt_fleet --devices 1000 --hours 24 --runs 2
	$(PY) -m bench.fleet_health --devices 1000 --interval-s 30 --seconds 120
	EDGE_SOAK_S=600 $(PY) -m pytest -s -p no:cacheprovider tests/faults/test_soak.py

faults: $(VENV)/.installed   # the fault suite, plus 1,000 utterances back to back
	$(PY) -m pytest -s -m faults tests/faults
	EDGE_BACK_TO_BACK_UTTERANCES=1000 $(PY) -m pytest -s tests/integration/test_back_to_back.py

pi: $(VENV)/.installed pi-tools   # the agent installed, unit-tested and sending on arm64 and armhf Debian (qemu chroots, cached)
	$(PY) -m devkit.pi_check --arch arm64 --arch armhf

pi-tools:
	@command -v debootstrap >/dev/null && command -v qemu-aarch64-static >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap qemu-user-static binfmt-support)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
