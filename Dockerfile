# The image every step of the compiled Kubeflow / Vertex AI pipeline runs in (kubeflow/README.md):
# Python 3.10, every pin of requirements.lock, and this package installed from its wheel. Nothing is
# installed when a step starts: the spec names model code by module path (no module_file wheels).
#
#   docker build -t ghcr.io/you/trainguard:0.1.0 .
#   make kubeflow ARGS="--image ghcr.io/you/trainguard:0.1.0"
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:3.10-slim AS build
# pyfarmhash and crcmod (from the lock) are sdists with C extensions; the compiler stays here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
COPY --from=uv /uv /opt/uv/uv
ENV UV_NO_CACHE=1 UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
COPY requirements.lock /src/requirements.lock
RUN /opt/uv/uv pip install --system -r /src/requirements.lock
COPY . /src
RUN python -m pip wheel --no-deps --no-cache-dir /src -w /dist \
 && /opt/uv/uv pip install --system --no-deps /dist/trainguard-*.whl
# The spec names the curated schema under /usr/local/lib/python3.10/site-packages (the constant
# IMAGE_SITE_PACKAGES of kubeflow_v2_runner.py) and every executor class by import path: compile
# it here and check both against what this image holds.
RUN cd / && python -m trainguard.kubeflow.kubeflow_v2_runner --output-dir /tmp/spec \
 && python -m trainguard.kubeflow.spec_check /tmp/spec/pipeline.json /tmp/spec/pipeline.yaml \
 && rm -rf /tmp/spec

FROM python:3.10-slim AS runtime
COPY --from=build /usr/local /usr/local
ENV PYTHONUNBUFFERED=1
WORKDIR /tmp

# The same image as the SDK harness of Beam workers outside the step's pod (Dataflow, Flink, Spark;
# docs/scale-out.md): Beam's boot entrypoint from the official SDK image of the locked Beam version.
#   docker build --target sdk-harness -t ghcr.io/you/trainguard-sdk:0.1.0 .
FROM runtime AS sdk-harness
COPY --from=apache/beam_python3.10_sdk:2.59.0 /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]

# The Kubeflow step image (the default target).
FROM runtime
# The spec sets this command itself; the entrypoint lets `docker run IMAGE --executor_class_path ...`
# behave the same.
ENTRYPOINT ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
