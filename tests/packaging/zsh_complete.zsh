# What zsh completes for each command line, through packaging/completions/_cwtrace loaded by
# compinit in an interactive zsh on a pseudo-terminal (zsh/zpty), as a user's TAB would:
#   zsh -f zsh_complete.zsh COMPLETIONS_DIR OUT LINE...
# OUT gets the matches of each LINE, one a line, each LINE's followed by a line "@@END@@".
# compadd is wrapped to write the matches it adds (after filtering by what is typed).
zmodload zsh/zpty || exit 3
local dir=$1 out=$2 line
shift 2
: >| $out
zpty cw zsh -f -i
zpty -w cw "PS1=''; fpath=(${(q)dir} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w cw "compadd() { local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) &&" \
  "print -rl -- \$m >> ${(q)out}; builtin compadd \"\$@\" }"
# TAB completes (no list under the line, nor its "do you wish to see all" question: only the
# matches matter), empties the line and writes the end mark, so the next line is typed once zle
# is done: keys typed while it completes could be dropped.
zpty -w cw "unsetopt autolist; setopt nobeep;" \
  "complete-and-mark() { zle complete-word; BUFFER=; print -r -- @@END@@ >> ${(q)out} };" \
  "zle -N complete-and-mark; bindkey '^I' complete-and-mark"
local -i answered=0 waited
local -a written marks
# Waits for the answered-th end mark in OUT.
await() {
  for (( waited = 0; waited < 200; waited++ )); do
    written=(${(f)"$(<$out)"})
    marks=(${(M)written:#@@END@@})
    (( $#marks >= answered )) && return 0
    sleep 0.05
  done
  print -u2 "zsh_complete: no answer for '$1'"
  exit 1
}
# The shell is ready: keys typed before its line editor starts are not completed.
zpty -w cw "print -r -- @@END@@ >> ${(q)out}"
(( answered++ ))
await setup
for line; do
  zpty -w -n cw "$line"$'\t'
  (( answered++ ))
  await "$line"
done
zpty -d cw
