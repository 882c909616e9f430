# Ports on 127.0.0.1, for the scripts that start servers (sourced, bash):
# scripts/cluster.sh and bench/centrifugo.sh.

# connect PORT: fd 3 is a connection to 127.0.0.1:PORT, if something listens.
connect() {
  # Braces: a failed exec of a redirection reports before its own 2> applies.
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null
}

# refuse_taken PORT NAME: exit if something already listens on PORT
# (whatever it speaks).
refuse_taken() {
  connect "$1" || return 0
  exec 3>&-
  echo "${0##*/}: 127.0.0.1:$1 ($2) is in use: stop what listens there, or choose another port" >&2
  exit 1
}
