//! The wire form of a channel's messages: [`Message`] ⇄ `ExchangeFrame`. A record batch
//! travels as an Arrow IPC stream (schema + one batch, written and read by arrow's own
//! `StreamWriter`/`StreamReader`); watermark, watermark status (idle = true), checkpoint
//! barrier and end of stream map one to one. Owns the frame size limit.

use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use eddy_api::rpc::{self, ExchangeFrame, exchange_frame};
use prost::Message as _;

use super::ExchangeError;
use crate::runtime::message::{CheckpointBarrier, Message, WatermarkStatus};

/// Largest encoded frame either side sends or accepts (tonic's own default, 4 MB, is
/// too small for a full batch of wide rows).
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// The frame carrying `message`, and `channel` when it opens the stream.
pub fn encode(
    message: &Message,
    channel: Option<rpc::ChannelId>,
) -> Result<ExchangeFrame, ExchangeError> {
    let payload = match message {
        Message::Data(batch) => exchange_frame::Message::Batch(encode_batch(batch)?),
        Message::Watermark(ts) => exchange_frame::Message::Watermark(*ts),
        Message::WatermarkStatus(status) => {
            exchange_frame::Message::Idle(*status == WatermarkStatus::Idle)
        }
        Message::Barrier(barrier) => exchange_frame::Message::Barrier(rpc::CheckpointBarrier {
            checkpoint_id: barrier.checkpoint_id,
            timestamp_ms: barrier.timestamp_ms,
            savepoint: barrier.savepoint,
        }),
        Message::EndOfStream => exchange_frame::Message::EndOfStream(true),
    };
    let frame = ExchangeFrame {
        channel,
        message: Some(payload),
    };
    check_size(frame.encoded_len())?;
    Ok(frame)
}

/// The message a frame's payload carries.
pub fn decode(payload: exchange_frame::Message) -> Result<Message, ExchangeError> {
    Ok(match payload {
        exchange_frame::Message::Batch(bytes) => Message::Data(decode_batch(&bytes)?),
        exchange_frame::Message::Watermark(ts) => Message::Watermark(ts),
        exchange_frame::Message::Idle(true) => Message::WatermarkStatus(WatermarkStatus::Idle),
        exchange_frame::Message::Idle(false) => Message::WatermarkStatus(WatermarkStatus::Active),
        exchange_frame::Message::Barrier(barrier) => Message::Barrier(CheckpointBarrier {
            checkpoint_id: barrier.checkpoint_id,
            timestamp_ms: barrier.timestamp_ms,
            savepoint: barrier.savepoint,
        }),
        exchange_frame::Message::EndOfStream(true) => Message::EndOfStream,
        exchange_frame::Message::EndOfStream(false) => {
            return Err(ExchangeError::MalformedFrame(
                "end_of_stream set to false".to_string(),
            ));
        }
    })
}

/// One batch as an Arrow IPC stream: its schema, then the batch.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, ExchangeError> {
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    let bytes = writer.into_inner()?;
    check_size(bytes.len())?;
    Ok(bytes)
}

/// The one batch of an Arrow IPC stream; anything else is a malformed frame.
pub fn decode_batch(bytes: &[u8]) -> Result<RecordBatch, ExchangeError> {
    check_size(bytes.len())?;
    let mut reader = StreamReader::try_new(bytes, None)?;
    let batch = reader
        .next()
        .ok_or_else(|| ExchangeError::MalformedFrame("IPC stream without a batch".to_string()))??;
    if reader.next().is_some() {
        return Err(ExchangeError::MalformedFrame(
            "IPC stream with more than one batch".to_string(),
        ));
    }
    Ok(batch)
}

fn check_size(bytes: usize) -> Result<(), ExchangeError> {
    if bytes > MAX_FRAME_BYTES {
        return Err(ExchangeError::FrameTooLarge {
            bytes,
            limit: MAX_FRAME_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};

    use super::*;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a"), Some("ü"), None])) as ArrayRef,
            ),
            (
                "price",
                Arc::new(Float64Array::from(vec![1.5, 2.0, -0.25])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn round_trip(message: &Message) -> Message {
        let frame = encode(message, None).unwrap();
        decode(frame.message.unwrap()).unwrap()
    }

    #[test]
    fn batch_round_trips_through_ipc() {
        let Message::Data(back) = round_trip(&Message::Data(batch())) else {
            panic!("not a batch");
        };
        assert_eq!(back, batch());
        let empty = batch().slice(0, 0);
        assert_eq!(decode_batch(&encode_batch(&empty).unwrap()).unwrap(), empty);
    }

    #[test]
    fn control_messages_map_one_to_one() {
        let barrier = CheckpointBarrier {
            checkpoint_id: 7,
            timestamp_ms: 1_700_000_000_000,
            savepoint: true,
        };
        assert!(matches!(
            round_trip(&Message::Watermark(-5)),
            Message::Watermark(-5)
        ));
        assert!(matches!(
            round_trip(&Message::WatermarkStatus(WatermarkStatus::Idle)),
            Message::WatermarkStatus(WatermarkStatus::Idle)
        ));
        assert!(matches!(
            round_trip(&Message::WatermarkStatus(WatermarkStatus::Active)),
            Message::WatermarkStatus(WatermarkStatus::Active)
        ));
        assert!(
            matches!(round_trip(&Message::Barrier(barrier)), Message::Barrier(b) if b == barrier)
        );
        assert!(matches!(
            round_trip(&Message::EndOfStream),
            Message::EndOfStream
        ));
    }

    #[test]
    fn rejects_malformed_and_oversized_payloads() {
        assert!(matches!(
            decode(exchange_frame::Message::Batch(b"not arrow".to_vec())),
            Err(ExchangeError::Ipc(_))
        ));
        assert!(matches!(
            decode(exchange_frame::Message::EndOfStream(false)),
            Err(ExchangeError::MalformedFrame(_))
        ));
        let mut writer = StreamWriter::try_new(Vec::new(), &batch().schema()).unwrap();
        writer.write(&batch()).unwrap();
        writer.write(&batch()).unwrap();
        writer.finish().unwrap();
        let two = writer.into_inner().unwrap();
        assert!(matches!(
            decode_batch(&two),
            Err(ExchangeError::MalformedFrame(_))
        ));
        assert!(matches!(
            check_size(MAX_FRAME_BYTES + 1),
            Err(ExchangeError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn first_frame_carries_the_channel() {
        let id = rpc::ChannelId {
            job_id: "j".to_string(),
            attempt: 1,
            edge: 2,
            producer: 3,
            consumer: 4,
        };
        let frame = encode(&Message::Watermark(1), Some(id.clone())).unwrap();
        assert_eq!(frame.channel, Some(id));
    }
}
