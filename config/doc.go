// Package config is the one typed configuration of a ringex node.
//
// Precedence, lowest to highest:
//
//  1. the embedded defaults (default.yaml in this folder), which alone
//     start a working demo exchange;
//  2. the YAML file given with --config (unknown keys are an error);
//  3. environment variables RINGEX_<KEY>, where KEY is the dotted YAML
//     path in upper case with dots and dashes as underscores
//     (gateway.listen → RINGEX_GATEWAY_LISTEN). Only scalar keys;
//     instruments and accounts come from files;
//  4. command-line flags, applied with Set using the dotted key.
//
// Validate names every bad key and why. Print shows the effective config
// with secrets (account secrets, the admin token) masked.
package config
