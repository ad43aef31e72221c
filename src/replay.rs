//! recording → decode → batch → Parquet (pending).
