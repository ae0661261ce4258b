# SPDX-License-Identifier: GPL-2.0-only
# bash completion for ringfence(8): commands, options, rule keywords and their values.
# Installed as /usr/share/bash-completion/completions/ringfence.

_ringfence()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands='isolate confirm release unisolate status allow events history metrics load unload agent oci-hook remote help'
	local global_opts='--cgroup --unit --container --pid --pin-dir --state-dir --config --btf --json --verbose -v --help -h --version -V'

	# values of global options
	case $prev in
	--cgroup)
		local mnt
		mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts 2>/dev/null)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "${cur:-${mnt:+$mnt/}}"))
		return
		;;
	--unit)
		# running services and scopes (what has a cgroup), as systemctl names them
		local units
		units=$(systemctl list-units --type=service,scope --state=running --plain \
			--no-legend --no-pager 2>/dev/null | awk '{ print $1 }')
		COMPREPLY=($(compgen -W "$units" -- "$cur"))
		return
		;;
	--container)
		# ids of container cgroups (docker-ID.scope, libpod-ID.scope, /docker/ID, ...)
		local mnt ids
		mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts 2>/dev/null)
		[[ -n $mnt ]] || return
		ids=$(find "$mnt" -maxdepth 8 -type d -regextype posix-extended \
			-regex '.*/([a-z0-9_-]+-)?[0-9a-f]{64}(\.scope)?' 2>/dev/null |
			grep -v -- '-conmon-' | sed -E 's/.*([0-9a-f]{64})(\.scope)?$/\1/' | sort -u)
		COMPREPLY=($(compgen -W "$ids" -- "$cur"))
		return
		;;
	--pid)
		COMPREPLY=($(compgen -W "$(cd /proc 2>/dev/null && printf '%s ' [0-9]*)" -- "$cur"))
		return
		;;
	--pin-dir | --state-dir)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--config | --btf)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac

	# find the command: the first word after the global options (and their values)
	local i cmd='' cmd_at=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--cgroup | --unit | --container | --pid | --pin-dir | --state-dir | --config | --btf)
			((i++))
			;;
		-*) ;;
		*)
			cmd=${words[i]}
			cmd_at=$i
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	case $cmd in
	isolate)
		case $prev in
		--comment | --verify)
			return # free text / HOST:PORT
			;;
		--for | --confirm-within | --verify-timeout)
			# a duration: offer the duration forms as a hint
			COMPREPLY=($(compgen -W '5s 30s 5m 15m 1h 2h 8h 1d' -- "$cur"))
			return
			;;
		esac
		COMPREPLY=($(compgen -W '--comment --for --force --audit --confirm-within --verify --verify-timeout --json --help' -- "$cur"))
		;;
	confirm | release | unisolate)
		[[ $prev == --comment ]] && return
		COMPREPLY=($(compgen -W '--comment --json --help' -- "$cur"))
		;;
	status | history)
		COMPREPLY=($(compgen -W '--all --json --help' -- "$cur"))
		;;
	load | agent)
		COMPREPLY=($(compgen -W '--json --help' -- "$cur"))
		;;
	metrics)
		COMPREPLY=($(compgen -W '--all --help' -- "$cur"))
		;;
	events)
		COMPREPLY=($(compgen -W '--follow --json --help' -- "$cur"))
		;;
	unload)
		COMPREPLY=($(compgen -W '--force --json --help' -- "$cur"))
		;;
	oci-hook)
		# the OCI state: a file (a runtime passes it on stdin)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	help)
		((cword == cmd_at + 1)) && COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		;;
	remote)
		if ((cword == cmd_at + 1)); then
			COMPREPLY=($(compgen -W 'isolate release status actions devices' -- "$cur"))
			return
		fi
		case $prev in
		--comment | --id | --not-after | --broker | --prefix | --target) return ;;
		--ca | --cert | --key)
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
			return
			;;
		--for | --wait)
			COMPREPLY=($(compgen -W '5s 30s 5m 15m 1h 2h 8h 1d' -- "$cur"))
			return
			;;
		esac
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W '--comment --for --wait --target --id --not-after --broker --ca --cert --key --prefix --json --help' -- "$cur"))
		;;
	allow)
		_ringfence_allow "$cmd_at"
		;;
	esac
}

# allow add|del RULE, allow list
_ringfence_allow()
{
	local at=$1 sub=${words[$1 + 1]}
	if ((cword == at + 1)); then
		COMPREPLY=($(compgen -W 'add del list --help' -- "$cur"))
		return
	fi
	case $sub in
	add | del) ;;
	list)
		COMPREPLY=($(compgen -W '--json' -- "$cur"))
		return
		;;
	*) return ;;
	esac
	local type=${words[at + 2]}
	if ((cword == at + 2)); then
		COMPREPLY=($(compgen -W 'net host exe cgroup' -- "$cur"))
		return
	fi
	case $type in
	exe)
		((cword == at + 3)) && { compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); }
		;;
	cgroup)
		if ((cword == at + 3)); then
			# paths relative to the cgroup2 mount, e.g. /system.slice/edr.service
			local mnt
			mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts 2>/dev/null)
			[[ -n $mnt ]] || return
			local d
			COMPREPLY=()
			for d in $(compgen -d -- "$mnt${cur:-/}"); do
				COMPREPLY+=("${d#"$mnt"}/")
			done
			compopt -o nospace 2>/dev/null
		fi
		;;
	net | host)
		((cword == at + 3)) && return # the CIDR, or the name (mgmt.example.com, *.example.com)
		case $prev in
		proto) COMPREPLY=($(compgen -W 'tcp udp icmp any' -- "$cur")) ;;
		dir) COMPREPLY=($(compgen -W 'in out both' -- "$cur")) ;;
		port) ;; # N or N-M
		*)
			# offer the keywords not used yet
			local kw used=" ${words[*]:at+4:cword-at-4} " left=''
			for kw in proto port dir; do
				[[ $used == *" $kw "* ]] || left+=" $kw"
			done
			COMPREPLY=($(compgen -W "$left --json" -- "$cur"))
			;;
		esac
		;;
	esac
}

complete -F _ringfence ringfence
