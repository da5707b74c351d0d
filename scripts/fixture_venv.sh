# Sourced (not run) by the fixture scripts that need a virtualenv of their own (make_onnx_models.sh,
# make_torch_models.sh):
#
#   source scripts/fixture_venv.sh
#   fixture_venv DIR PACKAGE==VERSION ...   # makes the virtualenv DIR with $PYTHON (python3 unless set) if it is
#                                           # missing or broken, installing python3-venv when venv creation
#                                           # fails, then installs the packages (needs PyPI)

fixture_venv() {
    local venv=$1 python="${PYTHON:-python3}" sudo
    shift
    if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$venv"
        if ! "$python" -m venv "$venv"; then
            if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
            "$python" -m venv "$venv"
        fi
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}
