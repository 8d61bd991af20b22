#!/usr/bin/env bash
# TLS, SASL and ACLs with kcat (librdkafka) (issue 12).
#
# usage: security_kcat.sh --ssl HOST:PORT --sasl-ssl HOST:PORT --ca CA.pem
#            --cert CLIENT.pem --topic T --group-prefix P --scram USER:PW
#            --plain USER:PW --noacl USER:PW --noacl-topic T2 --noacl-group G2
#
# The same checks as security_python.py (see there), run by internal/node's
# TestSecurityKcat: produce and read back exact records in a consumer group
# over SSL, SASL_SSL with SCRAM-SHA-512 and with PLAIN; wrong passwords fail
# to authenticate; the --noacl user is refused, then granted (the script
# prints "GRANT describe" / "GRANT group-describe" / "GRANT all" and waits
# for a line on stdin).
# Prints one PASS: or FAIL: line per check; exits non-zero when any failed.
set -u

kcat=${KCAT:-kcat}
failed=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ssl) ssl=$2 ;; --sasl-ssl) sasl_ssl=$2 ;; --ca) ca=$2 ;; --cert) cert=$2 ;;
    --topic) topic=$2 ;; --group-prefix) group_prefix=$2 ;; --scram) scram=$2 ;; --plain) plain=$2 ;;
    --noacl) noacl=$2 ;; --noacl-topic) noacl_topic=$2 ;; --noacl-group) noacl_group=$2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
run=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')

report() { # verdict check [detail]
  if [ "$1" = PASS ]; then echo "PASS: kcat $2"; else echo "FAIL: kcat $2: $3"; failed=1; fi
}

# Connection flags: ssl | sasl MECHANISM USER:PW
conn() {
  if [ "$1" = ssl ]; then
    echo "-b $ssl -X security.protocol=ssl -X ssl.ca.location=$ca -X ssl.certificate.location=$cert -X ssl.key.location=$cert"
  else
    echo "-b $sasl_ssl -X security.protocol=sasl_ssl -X ssl.ca.location=$ca -X sasl.mechanisms=$2 -X sasl.username=${3%%:*} -X sasl.password=${3#*:}"
  fi
}

# produce CONN TOPIC VALUES... : prints kcat's output, returns its status.
produce() {
  local c=$1 t=$2
  shift 2
  printf '%s\n' "$@" | timeout 60 $kcat -P $c -t "$t" -X acks=all -X message.timeout.ms=15000 2>&1
}

# group_consume CONN TOPIC GROUP N : reads N records in GROUP from the start.
group_consume() {
  timeout "${4:-30}" $kcat $1 -G "$3" -X auto.offset.reset=earliest -c "$5" -q -f '%s\n' "$2" 2>&1
}

# SSL, SCRAM-SHA-512 and PLAIN: produce five records, read them back.
i=0
for mode in "SSL|ssl" "SASL_SSL SCRAM-SHA-512|sasl SCRAM-SHA-512 $scram" "SASL_SSL PLAIN|sasl PLAIN $plain"; do
  name="${mode%%|*} produce and consume"
  c=$(conn ${mode#*|})
  prefix="kcat-$run-$i-"
  want=$(printf "${prefix}%s\n" 0 1 2 3 4)
  if out=$(produce "$c" "$topic" $want); then
    # The topic also holds the earlier modes' records: read them all.
    got=$(group_consume "$c" "$topic" "${group_prefix}kcat-$i-$run" 30 $((5 * (i + 1))) | grep "^$prefix")
    if [ "$got" = "$want" ]; then report PASS "$name"; else report FAIL "$name" "consumed [$got], want [$want]"; fi
  else
    report FAIL "$name" "produce: $out"
  fi
  i=$((i + 1))
done

# Wrong passwords.
for m in "SCRAM-SHA-512|$scram" "PLAIN|$plain"; do
  mech=${m%%|*}
  cred=${m#*|}
  name="$mech wrong password fails authentication"
  out=$(timeout 30 $kcat $(conn sasl "$mech" "${cred%%:*}:wrong-password") -L -m 5 2>&1)
  status=$?
  if [ $status -ne 0 ] && grep -q "SASL authentication error: Authentication failed" <<<"$out"; then
    report PASS "$name"
  else
    report FAIL "$name" "status $status: $out"
  fi
done

bob=$(conn sasl SCRAM-SHA-512 "$noacl")
wait_grant() {
  echo "GRANT $1"
  read -r _ || { echo "stdin closed before the grant" >&2; exit 1; }
}
expect_refusal() { # check pattern output
  if grep -q "$2" <<<"$3"; then report PASS "$1"; else report FAIL "$1" "$3"; fi
}

out=$(produce "$bob" "$noacl_topic" never)
expect_refusal "no ACLs: produce gets TOPIC_AUTHORIZATION_FAILED" "Broker: Topic authorization failed" "$out"
wait_grant describe
out=$(produce "$bob" "$noacl_topic" never)
expect_refusal "DESCRIBE only: produce gets TOPIC_AUTHORIZATION_FAILED" "Broker: Topic authorization failed" "$out"
out=$(group_consume "$bob" "$noacl_topic" "$noacl_group" 15 1)
expect_refusal "DESCRIBE only: group join gets GROUP_AUTHORIZATION_FAILED" "Broker: Group authorization failed" "$out"
out=$(produce "$bob -X enable.idempotence=true" "$noacl_topic" never)
expect_refusal "DESCRIBE only: idempotent producer gets CLUSTER_AUTHORIZATION_FAILED" "Fatal error: Broker: Cluster authorization failed" "$out"
wait_grant group-describe
out=$(group_consume "$bob" "$noacl_topic" "$noacl_group" 15 1)
expect_refusal "DESCRIBE on the group: JoinGroup gets GROUP_AUTHORIZATION_FAILED" "Broker: Group authorization failed" "$out"
wait_grant all

prefix="kcat-$run-bob-"
name="after the grant: produce succeeds"
if out=$(produce "$bob" "$noacl_topic" "${prefix}0") && ! grep -q "ERROR\|failed" <<<"$out"; then report PASS "$name"; else report FAIL "$name" "$out"; fi
name="after the grant: idempotent produce succeeds"
if out=$(produce "$bob -X enable.idempotence=true" "$noacl_topic" "${prefix}1") && ! grep -q "ERROR\|failed" <<<"$out"; then report PASS "$name"; else report FAIL "$name" "$out"; fi
name="after the grant: group consume reads the exact records"
want=$(printf "${prefix}%s\n" 0 1)
got=$(group_consume "$bob" "$noacl_topic" "$noacl_group" 30 2 | grep "^$prefix")
if [ "$got" = "$want" ]; then report PASS "$name"; else report FAIL "$name" "consumed [$got], want [$want]"; fi

exit $failed
