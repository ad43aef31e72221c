//! The end of a cycle's file: the footer listing every row group in row order, then the move
//! into place.
//!
//! In: the writer and the [`EncodedRowGroup`]s its row groups produced, in any order. Out: the
//! footer appended, the file fsync'd and renamed to its final path (or an error, and no file).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use parquet::errors::ParquetError;
use parquet::file::metadata::page_index::PageIndexBuilder;
use parquet::file::metadata::{FileMetaData, ParquetMetaDataBuilder, ParquetMetaDataWriter};
use parquet::file::writer::TrackedWrite;

use super::{CycleParquetWriter, EncodedRowGroup, SinkError};

impl CycleParquetWriter {
    /// Writes the footer listing `groups` (any order; they must tile rows `0..rows` exactly) in
    /// row order, fsyncs and moves the file into place. Returns the final path. The row groups'
    /// bytes are already in the file (and, with `fsync`, mostly on disk already).
    pub fn finish(mut self, mut groups: Vec<EncodedRowGroup>) -> Result<PathBuf, SinkError> {
        groups.sort_by_key(|g| g.first_row);
        let mut next = 0;
        for g in &groups {
            if g.first_row != next {
                return Err(SinkError::RowGroups(format!("expected a group at row {next}, got rows {:?}", g.rows())));
            }
            next += g.num_rows;
        }
        if next != self.rows {
            return Err(SinkError::RowGroups(format!("groups cover {next} rows, the cycle has {}", self.rows)));
        }

        // Every group is written once the I/O thread is drained; now its offsets can be made
        // absolute.
        let placed = self.out.drain()?;
        let columns = self.parquet_schema.num_columns();
        let mut index = PageIndexBuilder::new(groups.len(), columns);
        let mut row_groups = Vec::with_capacity(groups.len());
        for (i, g) in groups.into_iter().enumerate() {
            let at =
                placed.at.get(g.seq).copied().ok_or_else(|| {
                    SinkError::RowGroups(format!("row group {} was never written (append {})", i, g.seq))
                })?;
            let g = g.placed_at(at)?;
            for (c, ci) in g.column_indexes.into_iter().enumerate() {
                if let Some(ci) = ci {
                    index.put_column_index(ci, i, c);
                }
            }
            if !self.props.offset_index_disabled() {
                for (c, oi) in g.offset_indexes.into_iter().enumerate() {
                    if let Some(oi) = oi {
                        index.put_offset_index(oi, i, c);
                    }
                }
            }
            let ordinal = i32::try_from(i).map_err(|_| SinkError::RowGroups("more than 2^31 row groups".into()))?;
            row_groups.push(g.meta.into_builder().set_ordinal(ordinal).build()?);
        }
        let num_rows = row_groups.iter().map(|g| g.num_rows()).sum();
        let file_meta = FileMetaData::new(
            self.props.writer_version().as_num(),
            num_rows,
            Some(self.props.created_by().to_owned()),
            self.props.key_value_metadata().cloned(),
            self.parquet_schema.clone(),
            None,
        );
        let meta = ParquetMetaDataBuilder::new(file_meta)
            .set_row_groups(row_groups)
            .set_page_index(Some(Arc::new(index.build())))
            .build();

        // The footer's page-index offsets are positions in the file, so its writer must count
        // from where the footer starts: the bytes before it are counted, not kept.
        let at = placed.end;
        let mut footer = Positioned { skip: at, bytes: Vec::new() };
        {
            let mut tracked = TrackedWrite::new(&mut footer);
            let zeros = [0u8; 1 << 16];
            let mut left = at;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                tracked.write_all(&zeros[..n]).map_err(ParquetError::from)?;
                left -= n as u64;
            }
            ParquetMetaDataWriter::new_with_tracked(tracked, &meta)
                .with_write_path_in_schema(self.props.write_path_in_schema())
                .with_preserve_page_index_locations(false)
                .finish()?;
        }
        self.out.write_tail(at, &footer.bytes)?;
        self.out.commit()?;
        Ok(self.final_path)
    }
}

impl EncodedRowGroup {
    /// The group's metadata with its offsets made absolute: the group starts at `at`.
    fn placed_at(mut self, at: u64) -> Result<EncodedRowGroup, SinkError> {
        let by = at as i64;
        for oi in self.offset_indexes.iter_mut().flatten() {
            for page in &mut oi.page_locations {
                page.offset += by;
            }
        }
        let mut builder = self.meta.into_builder();
        let columns = builder
            .take_columns()
            .into_iter()
            .map(|c| {
                let data = c.data_page_offset() + by;
                let dict = c.dictionary_page_offset().map(|o| o + by);
                c.into_builder().set_data_page_offset(data).set_dictionary_page_offset(dict).build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.meta = builder.set_column_metadata(columns).set_file_offset(by).build()?;
        Ok(self)
    }
}

/// The 4 bytes a Parquet file starts with (and its footer ends with).
pub(super) const MAGIC: &[u8; 4] = b"PAR1";

/// A writer that counts the first `skip` bytes without keeping them, then keeps the rest.
struct Positioned {
    skip: u64,
    bytes: Vec<u8>,
}

impl Write for Positioned {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let dropped = (self.skip.min(buf.len() as u64)) as usize;
        self.skip -= dropped as u64;
        self.bytes.extend_from_slice(&buf[dropped..]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
