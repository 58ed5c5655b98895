//! The codec of `auth.v1` on both sides of the wire: prost's, with message
//! buffers of about 1 KiB instead of tonic's 8 KiB. Every call in flight
//! holds one buffer per direction (a response's stays allocated until h2
//! has written the frame cut from it), while nearly every message of this
//! API is well under 1 KiB; a larger one grows its buffer as it is
//! encoded. Under a few hundred concurrent calls the default cost MiBs of
//! resident memory.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Initial size of each call's encode and decode buffer: just under 1 KiB.
/// Not 1,024: with glibc's malloc a block of 1,024 bytes or more comes from
/// the large bins whenever the thread's cache of that size is empty, and
/// that path first consolidates every fast bin under the arena lock (a
/// visible share of a cached VerifyAccessToken under a profiler); 1,000
/// stays in the small bins.
const BUFFER_SIZE: usize = 1000;
/// tonic's default: a server stream hands h2 what it has encoded past this.
const YIELD_THRESHOLD: usize = 32 * 1024;

/// [`ProstCodec`] with [`BUFFER_SIZE`] buffers (the generated clients and
/// servers name it through `codec_path` in `build.rs`).
#[derive(Debug, Clone)]
pub struct SmallBufferCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SmallBufferCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for SmallBufferCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD))
    }
}
