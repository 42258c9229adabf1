"""One Streamlit session spoken over the app's own websocket protocol, with no browser and no rendering.

It does what the browser does on the wire: fetch /_stcore/health (which sets the `_streamlit_xsrf`
cookie, and, through a balancer, its affinity cookie), open ws://HOST/_stcore/stream with the page's
Origin, those cookies and the subprotocols ["streamlit", token], send BackMsg.rerun_script with the ClientState (page, every widget value it has
set, the hashes of the large messages it already holds), and read ForwardMsgs up to script_finished.
Streamlit 1.67 accepts the socket without the token too: the token only guards the login cookie
(st.user). A missing or same-host Origin is accepted, a foreign one refused (HTTP 403).

    session = await ProtocolSession.connect("http://127.0.0.1:8501", timeout=60)
    await session.open("Weights", timeout=60)
    slider = session.sliders()[0]
    seconds = await session.move(slider, +1, timeout=30)   # the rerun's server time, as the client saw it
    await session.set_widget("Image", "flower.jpg", timeout=60)   # a radio or selectbox; a button: choice None
    seconds = await session.upload("photo.jpg", data, timeout=60)  # into the page's file uploader, then a rerun
    session.shown_text(), session.errors()
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass

from PIL import Image, ImageDraw
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.Slider_pb2 import Slider as SliderProto
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect

XSRF_COOKIE = "_streamlit_xsrf"
CANVAS_SIDE = 280  # chapters/autoencoder.py draws a 280 x 280 canvas
# The fields a reader sees of each text-bearing element (what a browser's innerText shows of them).
TEXT_FIELDS = {
    "heading": ("body",),
    "markdown": ("body",),
    "alert": ("body",),
    "metric": ("label", "body", "delta"),
    "exception": ("type", "message"),
    "text": ("body",),
    "code": ("code_text",),
    "html": ("body",),
}


class ProtocolError(RuntimeError):
    """The server answered something a browser would show as a failure (not found, no answer in time)."""


@dataclass(frozen=True)
class Slider:
    """A slider or select_slider as the server described it, with the value this session has for it."""

    id: str
    label: str
    disabled: bool
    options: tuple[str, ...]  # a select_slider's formatted options; empty for a numeric slider
    low: float  # min, max and step in the slider's own units (option indices for a select_slider)
    high: float
    step: float
    value: float  # the single thumb's value (an option index for a select_slider)
    in_form: bool  # inside an st.form: a move reruns nothing until the form's button is pressed

    def state(self, value: float) -> WidgetState:
        """The WidgetState a browser sends when this slider's thumb is at value."""
        state = WidgetState(id=self.id)
        if self.options:
            state.string_array_value.data.append(self.options[int(value)])
        else:
            state.double_array_value.data.append(value)
        return state


def slider_from_proto(proto: SliderProto, sent: WidgetState | None) -> Slider:
    """The Slider an element describes; its value is what this session last sent, else the server's."""
    options = tuple(proto.options)
    if sent is not None:
        value = options.index(sent.string_array_value.data[0]) if options else sent.double_array_value.data[0]
    elif proto.set_value:  # the script set it through st.session_state
        value = options.index(proto.raw_value[0]) if options else proto.value[0]
    else:
        value = proto.default[0]
    return Slider(proto.id, proto.label, proto.disabled, options, proto.min, proto.max, proto.step, value, bool(proto.form_id))


def stroke_png(x: float, dx: float, width: int) -> str:
    """A data URL of a CANVAS_SIDE² RGBA PNG with one white stroke on black, as the drawable canvas returns."""
    image = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 255))
    top, bottom = 0.2 * CANVAS_SIDE, 0.8 * CANVAS_SIDE
    ImageDraw.Draw(image).line([(x, top), (x + dx, bottom)], fill=(255, 255, 255, 255), width=width)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class ProtocolSession:
    """A browser session without the browser: the page it shows is the elements of its last script run."""

    def __init__(self, socket: ClientConnection, cookies: dict[str, str], url: str = "") -> None:
        self._socket = socket
        self.cookies = cookies  # name -> value, as the first HTTP response set them
        self._url = url
        self._request_ids = itertools.count()
        self.session_id = ""  # the server's id of this session, from its new_session message
        self._widgets: dict[str, WidgetState] = {}  # every value this session has set, sent with each rerun
        # Large messages by hash, with the run that last used them, kept as the browser's cache keeps them:
        # until the script has finished max_cached_message_age more runs (the server says how many).
        self._cached: dict[str, tuple[int, ForwardMsg]] = {}
        self._max_age = 2
        self._runs = 0
        self._page_hash = ""
        self.pages: dict[str, str] = {}  # title -> page_script_hash, from the navigation message
        self.elements: dict[tuple[int, ...], Element] = {}  # delta path -> element of the last run

    @classmethod
    async def connect(cls, url: str, timeout: float) -> ProtocolSession:
        """Open a session on the app at url (http://host:port) as a browser would, waiting at most timeout s."""
        cookies = await asyncio.to_thread(_cookies, url, timeout)
        token = cookies.get(XSRF_COOKIE)
        socket = await connect(
            url.replace("http", "ws", 1) + "/_stcore/stream",
            origin=url,
            subprotocols=["streamlit", token] if token else ["streamlit"],
            additional_headers={"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())} if cookies else None,
            open_timeout=timeout,
            max_size=None,  # a page can send several MB (plotly figures)
            proxy=None,
        )
        return cls(socket, cookies, url)

    async def close(self) -> None:
        await self._socket.close()

    async def rerun(self, timeout: float, widget: WidgetState | None = None) -> float:
        """Ask for a run of the current page (with widget's new value, if given); seconds until script_finished.

        Raises ProtocolError when script_finished has not come within timeout s."""
        states = dict(self._widgets)
        if widget is not None:
            states[widget.id] = widget
            if widget.WhichOneof("value") != "trigger_value":  # a button press is sent once, as the browser does
                self._widgets[widget.id] = widget
        message = BackMsg()
        message.rerun_script.page_script_hash = self._page_hash
        message.rerun_script.widget_states.widgets.extend(states.values())
        message.rerun_script.cached_message_hashes.extend(self._cached)
        start = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        elements = {}
        while True:
            remaining = start + timeout - time.perf_counter()
            try:
                data = await asyncio.wait_for(self._socket.recv(), max(remaining, 0))
            except TimeoutError:
                raise ProtocolError(f"no script_finished within {timeout:g} s") from None
            forward = ForwardMsg()
            forward.ParseFromString(data)
            kind = forward.WhichOneof("type")
            path = tuple(forward.metadata.delta_path)  # a reference carries its own path, not the cached one's
            if kind == "ref_hash":
                forward, kind = self._cached[forward.ref_hash][1], "delta"
            if forward.metadata.cacheable:
                self._cached[forward.hash] = (self._runs, forward)
            if kind == "new_session":
                self._max_age = forward.new_session.config.max_cached_message_age
                self.session_id = forward.new_session.initialize.session_id
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                elements[path] = forward.delta.new_element
            elif kind == "navigation":
                self.pages = {page.page_name: page.page_script_hash for page in forward.navigation.app_pages}
            elif kind == "page_not_found":
                raise ProtocolError(f"page not found: {forward.page_not_found.page_name!r}")
            elif kind == "script_finished":
                seconds = time.perf_counter() - start
                self._runs += 1
                self._cached = {key: kept for key, kept in self._cached.items() if self._runs - kept[0] <= self._max_age}
                if forward.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("the script did not compile")
                self.elements = dict(sorted(elements.items()))
                return seconds

    async def open(self, title: str, timeout: float) -> None:
        """Run the app's default page, then follow the navigation to the page called title (each within timeout s)."""
        await self.rerun(timeout)
        if title not in self.pages:
            raise ProtocolError(f"no page {title!r} in the navigation: {list(self.pages)}")
        self._page_hash = self.pages[title]
        await self.rerun(timeout)

    def sliders(self) -> list[Slider]:
        """The page's sliders and select_sliders, in page order."""
        return [
            slider_from_proto(element.slider, self._widgets.get(element.slider.id))
            for element in self.elements.values()
            if element.WhichOneof("type") == "slider"
        ]

    async def move(self, slider: Slider, steps: int, timeout: float) -> float:
        """Move slider by `steps` steps (clipped to its range) and rerun; seconds until script_finished."""
        value = min(max(slider.value + steps * slider.step, slider.low), slider.high)
        return await self.rerun(timeout, slider.state(value))

    async def set_widget(self, label: str, choice: str | None, timeout: float) -> float:
        """Choose the option shown as `choice` in the radio or selectbox called label, or press the button
        called label (choice None), and rerun; seconds until script_finished."""
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            proto = getattr(element, kind)
            if kind in ("radio", "selectbox") and proto.label == label and choice is not None:
                if choice not in proto.options:
                    raise ProtocolError(f"{label!r} has no option {choice!r}: {list(proto.options)}")
                return await self.rerun(timeout, WidgetState(id=proto.id, string_value=choice))
            if kind == "button" and proto.label == label and choice is None:
                return await self.rerun(timeout, WidgetState(id=proto.id, trigger_value=True))
        kinds = "radio or selectbox" if choice is not None else "button"
        raise ProtocolError(f"no {kinds} called {label!r} on the page")

    async def upload(self, name: str, data: bytes, timeout: float) -> float:
        """Put a file into the page's file uploader as a browser does (ask for URLs, PUT the file, rerun); seconds taken."""
        [uploader] = [element.file_uploader for element in self.elements.values() if element.WhichOneof("type") == "file_uploader"]
        start = time.perf_counter()
        request = BackMsg()
        request.file_urls_request.request_id = request_id = f"upload-{next(self._request_ids)}"
        request.file_urls_request.session_id = self.session_id
        request.file_urls_request.file_names.append(name)
        await self._socket.send(request.SerializeToString())
        urls = await self._file_urls(request_id, timeout)
        await asyncio.to_thread(self._put, urls.upload_url, name, data, timeout)
        state = WidgetState(id=uploader.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        await self.rerun(timeout - (time.perf_counter() - start), state)
        return time.perf_counter() - start

    async def _file_urls(self, request_id: str, timeout: float) -> FileURLs:
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(await asyncio.wait_for(self._socket.recv(), timeout))
            if forward.WhichOneof("type") == "file_urls_response" and forward.file_urls_response.response_id == request_id:
                if forward.file_urls_response.error_msg:
                    raise ProtocolError(forward.file_urls_response.error_msg)
                return forward.file_urls_response.file_urls[0]

    def _put(self, upload_url: str, name: str, data: bytes, timeout: float) -> None:
        """The browser's multipart PUT of one file, with the session's cookies and the XSRF header."""
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        url = upload_url if upload_url.startswith("http") else self._url + upload_url
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{cookie}={value}" for cookie, value in self.cookies.items())
        if XSRF_COOKIE in self.cookies:
            headers["X-Xsrftoken"] = self.cookies[XSRF_COOKIE]
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="PUT"), timeout=timeout) as response:
            if response.status not in (200, 204):
                raise ProtocolError(f"upload answered HTTP {response.status}")

    def canvas_id(self) -> str | None:
        """The widget id of the page's drawable canvas (a bidirectional component), or None."""
        for element in self.elements.values():
            if element.WhichOneof("type") == "bidi_component" and "drawable_canvas" in element.bidi_component.component_name:
                return element.bidi_component.id
        return None

    async def draw(self, canvas_id: str, x: float, dx: float, width: int, timeout: float) -> float:
        """Send the canvas's state after one stroke from (x, 20%) to (x + dx, 80%) and rerun; seconds taken."""
        drawing = {"raw": {"objects": [{"type": "path"}], "background": "#000000"}, "data": stroke_png(x, dx, width)}
        return await self.rerun(timeout, WidgetState(id=canvas_id, json_value=json.dumps({"drawing": drawing})))

    def shown_text(self) -> str:
        """The text a reader sees: headings, markdown, metrics, alerts, exceptions, image captions, in page order."""
        parts = []
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            if kind == "imgs":
                parts += [image.caption for image in element.imgs.imgs]
            parts += [str(getattr(getattr(element, kind), name)) for name in TEXT_FIELDS.get(kind, ())]
        return "\n".join(parts)

    def errors(self) -> list[str]:
        """The texts of the page's exception and st.error elements."""
        found = []
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            if kind == "exception":
                found.append(f"{element.exception.type}: {element.exception.message}")
            elif kind == "alert" and element.alert.format == Alert.ERROR:
                found.append(element.alert.body)
        return found


def _cookies(url: str, timeout: float) -> dict[str, str]:
    """{name: value} of the cookies the health endpoint's response sets (the browser's first request):
    `_streamlit_xsrf` (absent with XSRF off) and, behind a balancer, its affinity cookie."""
    with urllib.request.urlopen(url + "/_stcore/health", timeout=timeout) as response:
        pairs = [header.split(";", 1)[0] for header in response.headers.get_all("Set-Cookie") or []]
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)
