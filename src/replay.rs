//! recording → decode → batch → Parquet.
