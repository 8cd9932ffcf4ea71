#!/usr/bin/env bash
# Creates one contact through the gateway with an Idempotency-Key, sends the very same request
# again to show that the gateway replays it instead of writing twice, then reads the operation.
#
#   GATEWAY_URL=http://127.0.0.1:8080 GATEWAY_TOKEN=<JWT> bash examples/create-contact.sh
#
# Needs only bash, curl and sha256sum (or shasum). Optional: CONTACT_FIRST_NAME,
# CONTACT_LAST_NAME, CONTACT_EMAIL, CONTACT_PHONE. Prints the gateway's raw JSON answers.
set -euo pipefail

die() {
    echo "create-contact: $*" >&2
    exit 1
}

[ -n "${GATEWAY_URL:-}" ] || die "GATEWAY_URL is not set (e.g. http://127.0.0.1:8080, as \`demo\` prints)"
[ -n "${GATEWAY_TOKEN:-}" ] || die "GATEWAY_TOKEN is not set (the \`token: <JWT>\` line the demo prints, or \`ghl-baserow-gateway token --scope contacts.write --data-dir demo-data\`)"
command -v curl >/dev/null || die "curl is not installed"

first_name=${CONTACT_FIRST_NAME:-Hedy}
last_name=${CONTACT_LAST_NAME:-Lamarr}
email=${CONTACT_EMAIL:-hedy.lamarr@example.org}
phone=${CONTACT_PHONE:-+12025550199}
endpoint="${GATEWAY_URL%/}/graphql"

# The key is derived from the input: the same contact always gets the same key, so a retry (or
# this script run twice) can never create it twice.
input_text=$(printf '%s\n' "$first_name" "$last_name" "$email" "$phone")
if command -v sha256sum >/dev/null; then
    digest=$(printf '%s' "$input_text" | sha256sum)
elif command -v shasum >/dev/null; then
    digest=$(printf '%s' "$input_text" | shasum -a 256)
else
    die "neither sha256sum nor shasum is installed"
fi
idempotency_key="create-contact-${digest%% *}"

for value in "$first_name" "$last_name" "$email" "$phone"; do
    [[ $value != *[[:cntrl:]]* ]] || die "control characters are not allowed in: $value"
done

# A JSON string literal (backslashes and quotes escaped; inputs hold no control characters).
json_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# POSTs a GraphQL request body; prints the answer. Fails on HTTP errors (401, 5xx, ...) with the
# body, and on GraphQL errors.
graphql() {
    local body=$1 key=${2:-} answer
    local headers=(-H "Authorization: Bearer $GATEWAY_TOKEN" -H 'Content-Type: application/json')
    [ -z "$key" ] || headers+=(-H "Idempotency-Key: $key")
    if ! answer=$(curl -sS --fail-with-body --max-time 30 "${headers[@]}" --data "$body" "$endpoint"); then
        [ -n "$answer" ] || die "no answer from $endpoint (curl's message is above)"
        die "the gateway at $endpoint answered with an HTTP error: $answer"
    fi
    if [[ $answer == *'"errors"'* ]]; then
        die "GraphQL errors: $answer"
    fi
    printf '%s' "$answer"
}

create_query='mutation Create($input: CreateContactInput!) { createContact(input: $input) { replayed contact { id ghlId baserowRowId name email } operation { id status ghl { outcome error } baserow { outcome error } } } }'
variables="{\"input\":{\"firstName\":$(json_string "$first_name"),\"lastName\":$(json_string "$last_name"),\"email\":$(json_string "$email"),\"phone\":$(json_string "$phone")}}"
create_body="{\"query\":$(json_string "$create_query"),\"variables\":$variables}"

echo "== createContact (Idempotency-Key: $idempotency_key)"
first=$(graphql "$create_body" "$idempotency_key")
echo "$first"

echo "== the same request again: the gateway replays the first answer, writing nothing"
second=$(graphql "$create_body" "$idempotency_key")
echo "$second"

ws='[[:space:]]*'
if [[ $first =~ \"operation\"$ws:$ws\{$ws\"id\"$ws:$ws\"([^\"]+)\" ]]; then
    operation_id=${BASH_REMATCH[1]}
else
    die "no operation id in the answer (is the gateway in dry-run mode?)"
fi

echo "== operation($operation_id)"
operation_query='query Op($id: ID!) { operation(id: $id) { id kind status attempts ghl { outcome error } baserow { outcome error } } }'
graphql "{\"query\":$(json_string "$operation_query"),\"variables\":{\"id\":$(json_string "$operation_id")}}"
echo
