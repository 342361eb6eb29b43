# Every target creates and reuses .venv on its own, installing only what it needs: `make run`
# the server alone (a plain install, as `pip install tertulia` gives), `make test` the dev extra.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test lint typecheck pytest venv clean install-check

$(RUN_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP) $(RUN_STAMP)

venv: $(STAMP)

## make run: start a server on the embedded defaults (SQLite, self-signed TLS, ./data)
run: $(RUN_STAMP)
	$(VENV)/bin/tertulia server --data-dir data $(ARGS)

## make install-check: every install line the docs give (no extras, [gui], [postgres,redis]),
## each in a new virtualenv from the built wheel, starts a server and chats through it
install-check:
	$(PYTHON) scripts/install_check.py $(ARGS)

## make test: linters, type checks and the whole test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts examples
	$(VENV)/bin/ruff format --check src tests scripts examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) translations
	$(PY) -m pytest -q $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## make reliability: run the fault scenarios at full size and write docs/reliability.md
reliability: $(STAMP)
	$(PY) scripts/reliability_report.py

## make security-figures: run the hostile-client suite and write its figures (honest latency,
## server RSS per attack) into docs/security.md
security-figures: $(STAMP)
	$(PY) scripts/security_figures.py $(ARGS)

.PHONY: security-figures

## make translations: compile the desktop client's Qt Linguist files (.ts -> .qm)
GUI_TS := $(wildcard src/tertulia/gui/translations/*.ts)
GUI_QM := $(GUI_TS:.ts=.qm)

translations: $(GUI_QM)

# the .qm files are committed (a wheel built from a clean checkout must carry them); a test
# checks that they match their .ts
src/tertulia/gui/translations/%.qm: src/tertulia/gui/translations/%.ts | $(STAMP)
	$(VENV)/bin/pyside6-lrelease -silent $< -qm $@

## make translations-update: collect new and changed GUI strings into the .ts files
translations-update: $(STAMP)
	$(VENV)/bin/pyside6-lupdate -no-obsolete -locations none src/tertulia/gui/*.py -ts $(GUI_TS)

## make screenshots: drive a real server and the GUI offscreen, write docs/screenshots/*.png
screenshots: $(STAMP) translations
	@dpkg-query -W -f='$${Status}' fonts-inter 2>/dev/null | grep -q "ok installed" || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-inter || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-inter; }
	QT_QPA_PLATFORM=offscreen $(PY) scripts/screenshots.py

.PHONY: translations translations-update screenshots

## make bench: Tertulia side by side with InspIRCd and ngIRCd (takes several minutes; not part
## of `make test`); installs the peers, runs every scenario 3 times, writes docs/benchmarks.md
BENCH_ARGS ?= --runs 3
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	bash scripts/bench/install-peers.sh
	$(PY) -m tertulia bench --compare $(BENCH_ARGS) --doc docs/benchmarks.md \
		--plots docs/benchmarks --json docs/benchmarks/results.json $(ARGS)

.PHONY: bench

## make report: the technical report, docs/report/report.en.pdf and informe.es.pdf, built from
## docs/report/*.md, generated figures and the measured results (installs what it needs)
REPORT_STAMP := $(VENV)/.report-installed

$(REPORT_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[report]'
	@touch $(REPORT_STAMP)

report: $(REPORT_STAMP)
	$(PY) scripts/report/build.py $(ARGS)

.PHONY: report

## make demo-video: record docs/demo/tertulia-demo.mp4: a real server and three desktop clients
## on a virtual display, driven by scripts/demo/record.py (installs Xvfb, ffmpeg, xterm, tshark)
DEMO_STAMP := $(VENV)/.demo-installed

$(DEMO_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[gui]'
	@touch $(DEMO_STAMP)

demo-video: $(DEMO_STAMP) translations
	sh scripts/demo/install-deps.sh
	$(PY) scripts/demo/record.py $(ARGS)

.PHONY: demo-video
