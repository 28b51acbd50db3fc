# The two commands: `make run` and `make test`. Both create .venv on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The LTI platform the tests run on loopback (Open edX's lti-consumer-xblock, lti1p3platform): its own venv
LTI_PEER := .venv-lti-platform
LTI_PEER_STAMP := $(LTI_PEER)/.installed

.PHONY: run test lint install translations clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	# mediapipe declares numpy<2 and opencv-contrib-python (which would clash with the headless
	# build's cv2); the face mesh runs on numpy 2 and the headless OpenCV, and its other needs are
	# pinned in requirements.txt. face-recognition is not installed: it loads the 68-point model
	# (non-commercial licence) on import; idcheck/faces.py calls dlib directly.
	$(BIN)/python -m pip install -q --no-deps mediapipe==0.10.21
	$(BIN)/python -c "import dlib, face_recognition_models, mediapipe, cv2, aiortc"
	touch $(STAMP)

$(LTI_PEER_STAMP): tests/lti_platform/requirements.txt
	test -x $(LTI_PEER)/bin/python || $(PY) -m venv $(LTI_PEER)
	$(LTI_PEER)/bin/python -m pip install -q -r tests/lti_platform/requirements.txt
	$(LTI_PEER)/bin/python -c "import lti_consumer.lti_1p3, lti1p3platform, django"
	touch $(LTI_PEER_STAMP)

install: $(STAMP) $(LTI_PEER_STAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d app/translations > /dev/null

run: install
	$(BIN)/flask --app app db upgrade
	$(BIN)/flask --app app seed-demo
	$(BIN)/flask --app app serve

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) $(LTI_PEER) .pytest_cache .mypy_cache .ruff_cache
