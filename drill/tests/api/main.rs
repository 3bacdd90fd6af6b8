//! Integration tests: the real kube client against a drill server.

mod common;
mod control;
mod kubelet;
mod malformed;
mod reads;
mod workloads;
mod writes;
