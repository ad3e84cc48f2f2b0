// Sends the deep-linking response back to the LMS at once; the button stays for pages without JavaScript.
document.getElementById("lti-deep-linking-response")?.submit();
