#!/usr/bin/env bash
# Run the Cloud Run job `auditor-nightly` every night with Cloud Scheduler.
#
#   PROJECT=gac-prod-471220 REGION=us-central1 deploy/scheduler.sh
#
# Creates (or updates) a scheduler service account that may only run this one job, and an
# HTTP scheduler job that calls the Cloud Run Admin API's jobs.run with that account's OAuth
# token. Idempotent: run it again after changing the schedule.
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT, e.g. gac-prod-471220}"
REGION="${REGION:-us-central1}"
JOB="${JOB:-auditor-nightly}"
SCHEDULE="${SCHEDULE:-0 2 * * *}"   # 02:00 every day
TIME_ZONE="${TIME_ZONE:-Etc/UTC}"
INVOKER="${INVOKER:-auditor-scheduler}"
INVOKER_EMAIL="${INVOKER}@${PROJECT}.iam.gserviceaccount.com"
RUN_URI="https://run.googleapis.com/v2/projects/${PROJECT}/locations/${REGION}/jobs/${JOB}:run"

if ! gcloud iam service-accounts describe "${INVOKER_EMAIL}" --project "${PROJECT}" >/dev/null 2>&1; then
  gcloud iam service-accounts create "${INVOKER}" --project "${PROJECT}" \
    --display-name "Cloud Scheduler: runs ${JOB}"
fi

# roles/run.invoker on the job only (run.jobs.run), not on the project.
gcloud run jobs add-iam-policy-binding "${JOB}" --project "${PROJECT}" --region "${REGION}" \
  --member "serviceAccount:${INVOKER_EMAIL}" --role roles/run.invoker >/dev/null

verb=create
if gcloud scheduler jobs describe "${JOB}" --project "${PROJECT}" --location "${REGION}" >/dev/null 2>&1; then
  verb=update
fi
gcloud scheduler jobs "${verb}" http "${JOB}" \
  --project "${PROJECT}" \
  --location "${REGION}" \
  --schedule "${SCHEDULE}" \
  --time-zone "${TIME_ZONE}" \
  --uri "${RUN_URI}" \
  --http-method POST \
  --oauth-service-account-email "${INVOKER_EMAIL}" \
  --oauth-token-scope "https://www.googleapis.com/auth/cloud-platform" \
  --attempt-deadline 180s \
  --max-retry-attempts 0 \
  --description "auditor nightly compliance scan"

echo "scheduled ${JOB} (${SCHEDULE} ${TIME_ZONE}) via ${RUN_URI}"
