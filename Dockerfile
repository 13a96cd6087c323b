# durable-rules ships no wheels: build it in a builder stage with gcc, run without a compiler.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bevilling bevilling
COPY api api
COPY db db
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV TZ=UTC PYTHONUNBUFFERED=1
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY rules rules
COPY migrations migrations
COPY alembic.ini ./
EXPOSE 8000
CMD ["bevilling", "serve", "--host", "0.0.0.0", "--port", "8000"]
