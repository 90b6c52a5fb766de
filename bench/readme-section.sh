# Sourced by the bench scripts: write_readme_section NAME HEADING BODY replaces the text between
# <!-- NAME:begin --> and <!-- NAME:end --> in bench/README.md with BODY, or appends "## HEADING" and the
# marked section when the markers are not there yet (creating the file if needed). Other sections stay as they are.
write_readme_section() {
  local name="$1" heading="$2" body="$3"
  local readme
  readme="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/README.md"
  NAME="$name" HEADING="$heading" BODY="$body" python3 - "$readme" <<'PY'
import os, re, sys
path = sys.argv[1]
name, heading, body = os.environ["NAME"], os.environ["HEADING"], os.environ["BODY"].strip()
text = open(path).read() if os.path.exists(path) else ""
section = f"<!-- {name}:begin -->\n{body}\n<!-- {name}:end -->"
pattern = re.compile(rf"<!-- {re.escape(name)}:begin -->.*?<!-- {re.escape(name)}:end -->", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text, count=1)
else:
    text = (text.rstrip() + "\n\n" if text.strip() else "") + f"## {heading}\n" + section + "\n"
open(path, "w").write(text)
PY
}
