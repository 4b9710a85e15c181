"""How a frame travels: the pacing of frames by what the page has drawn, the channel that
gathers a frame's changes, and the binary frame message on the page's websocket."""
