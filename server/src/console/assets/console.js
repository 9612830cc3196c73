// The console's only script: a form's button is disabled once it is sent, so a double
// click sends one request (the server would treat a second as a replay anyway).
'use strict'
document.addEventListener('submit', (event) => {
  const form = event.target
  if (form.dataset.sent) {
    event.preventDefault()
    return
  }
  form.dataset.sent = '1'
  for (const button of form.querySelectorAll('button[type=submit]')) button.disabled = true
})
