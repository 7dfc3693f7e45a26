//! The path of the data into a model: data sets loaded for a run ([`data`]), a folder of the
//! user's own images ([`folder`]), samples made into tensor batches ([`batch`]), and image sets
//! kept on the device ([`resident`]).

pub mod batch;
pub mod data;
pub mod folder;
pub mod resident;
