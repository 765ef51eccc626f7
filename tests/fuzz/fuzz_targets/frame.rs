//! The frame decoder: arbitrary bytes never panic the stateless [`decode`], the
//! incremental [`FrameDecoder`] fed the same bytes in pieces agrees with it, and a frame
//! that decodes re-encodes to exactly the bytes it came from.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ringstore_proto::{decode, encode_frame, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size the incremental decoder is fed in.
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let piece_bytes = usize::from(piece % 64) + 1;
    let whole = decode(input);

    if let Ok(Some(frame)) = &whole {
        let mut again = BytesMut::new();
        encode_frame(&frame.header, frame.body, &mut again);
        assert_eq!(
            &again[..],
            &input[..frame.frame_bytes()],
            "re-encoding differs"
        );
    }

    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let incremental = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => break Ok(Some(frame)),
            Err(e) => break Err(e),
            Ok(None) if fed == input.len() => break Ok(None),
            Ok(None) => {
                let end = (fed + piece_bytes).min(input.len());
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
        }
    };
    match (&whole, &incremental) {
        (Ok(Some(a)), Ok(Some(b))) => {
            assert_eq!(a.header, b.header);
            assert_eq!(a.body, &b.body[..]);
        }
        (Ok(None), Ok(None)) => {}
        // The incremental decoder may reject a bad magic or version on an earlier prefix
        // than the whole input, so only the kind of outcome must agree.
        (Err(_), Err(_)) => {}
        _ => panic!("decode {whole:?} but FrameDecoder {incremental:?}"),
    }
});
