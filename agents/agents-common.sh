# SPDX-License-Identifier: LGPL-2.1-or-later
#
# agents-common.sh: helpers shared by clusterd's shell agents (POSIX sh).
# The build copies this file into each agent in place of its
# "@AGENTS_COMMON@" line, so an installed agent is one self-contained file
# that needs neither resource-agents' ocf-shellfuncs nor anything else at
# run time. Names that agents must not use start with "_ac_".

# OCF return codes.
OCF_SUCCESS=0
OCF_ERR_GENERIC=1
OCF_ERR_ARGS=2
OCF_ERR_UNIMPLEMENTED=3
# shellcheck disable=SC2034 # not every agent uses every code
OCF_ERR_PERM=4
OCF_ERR_INSTALLED=5
OCF_ERR_CONFIGURED=6
OCF_NOT_RUNNING=7

# agent_log MESSAGE...: one line on stderr, naming the agent and instance.
agent_log() {
	printf '%s[%s]: %s\n' "$AGENT_NAME" "${OCF_RESOURCE_INSTANCE:-?}" "$*" >&2
}

# agent_exit_reason MESSAGE...: why the action failed, on stderr, in the
# form executors (clusterd, Pacemaker) pick up.
agent_exit_reason() {
	printf 'ocf-exit-reason:%s\n' "$*" >&2
}

# agent_fail RC MESSAGE...: reports the reason and exits with RC.
agent_fail() {
	_ac_rc=$1
	shift
	agent_exit_reason "$@"
	exit "$_ac_rc"
}

# agent_is_uint VALUE: a non-empty string of decimal digits.
agent_is_uint() {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	esac
	return 0
}

# agent_is_seconds VALUE: seconds as "N" or "N.N" (what sleep(1) takes).
agent_is_seconds() {
	case $1 in
	'' | .* | *. | *.*.* | *[!0-9.]*) return 1 ;;
	esac
	return 0
}

# agent_check_params NAME...: fails with OCF_ERR_CONFIGURED when an
# OCF_RESKEY_* parameter is not one of NAME... (a misspelt parameter
# would otherwise be silently ignored). The executor's own keys are fine.
agent_check_params() {
	_ac_unknown=$(env | sed -n 's/^OCF_RESKEY_\([A-Za-z0-9_]*\)=.*/\1/p' | while read -r _ac_k; do
		case $_ac_k in
		CRM_meta_* | crm_feature_set) continue ;;
		esac
		_ac_known=no
		for _ac_p in "$@"; do
			[ "$_ac_k" = "$_ac_p" ] && _ac_known=yes
		done
		if [ "$_ac_known" = no ]; then
			printf '%s\n' "$_ac_k"
			break
		fi
	done)
	if [ -n "$_ac_unknown" ]; then
		agent_fail "$OCF_ERR_CONFIGURED" "unknown parameter '$_ac_unknown' (known: $*)"
	fi
}
