#!/usr/bin/env bash
echo "(compat tests pending)"
